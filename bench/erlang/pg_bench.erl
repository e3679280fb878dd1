%% Erlang's figures for the `pg` group of otter-bench, measured the same way (bench/pg_bench.cpp):
%% three nodes on this machine (this one and two peers), pg's default scope on each.
%% - erl_pg_broadcast_per_s: member deliveries per second of a send loop over
%%   pg:get_members/1 for a group of 1,000 members spread evenly over the 3 nodes (sent from a
%%   process of this node, counted when every member has received every message).
%% - erl_pg_join_visible_us: median time from pg:join/2 on this node until a pg:monitor/1
%%   subscriber on each of the other two nodes has seen it (os:system_time, one clock).
%% - erl_pg_rtt_us: median remote gen_server:call round trip in the same cluster.
%% Run: erl -noshell -sname pgbench@localhost -setcookie otterbench -pa DIR -s pg_bench main
-module(pg_bench).
-export([main/0, member/1, watcher/2, echo/0]).

-define(MEMBERS, 1000).
-define(WARM_ROUNDS, 200).
-define(ROUNDS, 3000).
-define(JOINS, 1200).
-define(JOIN_WARM, 200).

main() ->
    try run() of
        ok -> erlang:halt(0)
    catch C:R:S ->
        io:format(standard_error, "pg_bench: ~p:~p~n~p~n", [C, R, S]),
        erlang:halt(1)
    end.

run() ->
    {ok, _} = pg:start(pg),
    Dir = filename:dirname(code:which(?MODULE)),
    Args = ["-setcookie", atom_to_list(erlang:get_cookie()), "-pa", Dir],
    Peers = [begin
                 {ok, P, N} = peer:start_link(#{name => peer:random_name(pgbench), host => "localhost",
                                                 args => Args}),
                 {ok, _} = erpc:call(N, pg, start, [pg]),
                 {P, N}
             end || _ <- [1, 2]],
    Nodes = [node() | [N || {_, N} <- Peers]],
    broadcast(Nodes),
    join_visible(Nodes),
    [peer:stop(P) || {P, _} <- Peers],
    ok.

%% ---- broadcast ----
member(Collector) ->
    member_loop(Collector, 0, 0).
member_loop(Collector, Want, Got) ->
    receive
        {want, N} -> check(Collector, N, Got);
        {tick, _} -> check(Collector, Want, Got + 1)
    end.
check(Collector, Want, Got) when Want > 0, Got >= Want ->
    Collector ! done,
    member_loop(Collector, 0, 0);
check(Collector, Want, Got) ->
    member_loop(Collector, Want, Got).

broadcast(Nodes) ->
    Self = self(),
    Members = [spawn(lists:nth(I rem 3 + 1, Nodes), ?MODULE, member, [Self])
               || I <- lists:seq(0, ?MEMBERS - 1)],
    %% Each node's members join there (pg joins local processes only).
    [ok = erpc:call(node(M), pg, join, [bench, [M]]) || M <- Members],
    wait_members(Nodes, bench, ?MEMBERS),
    _ = rounds(Members, ?WARM_ROUNDS),
    Secs = rounds(Members, ?ROUNDS),
    report("erl_pg_broadcast_per_s", ?ROUNDS * ?MEMBERS / Secs, "msgs/s"),
    [exit(M, kill) || M <- Members],
    ok.

rounds(Members, Rounds) ->
    [M ! {want, Rounds} || M <- Members],
    T0 = erlang:monotonic_time(),
    send_rounds(Rounds),
    [receive done -> ok after 60000 -> exit(broadcast_timeout) end || _ <- Members],
    (erlang:monotonic_time() - T0) / erlang:convert_time_unit(1, second, native).

send_rounds(0) -> ok;
send_rounds(R) ->
    [P ! {tick, R} || P <- pg:get_members(bench)],
    send_rounds(R - 1).

wait_members(Nodes, Group, N) ->
    case lists:all(fun(Node) -> length(erpc:call(Node, pg, get_members, [Group])) =:= N end,
                   Nodes) of
        true -> ok;
        false -> timer:sleep(5), wait_members(Nodes, Group, N)
    end.

%% ---- join visibility and round trips ----
watcher(Collector, Groups) ->
    {_Ref, _} = pg:monitor_scope(pg),
    Collector ! {watching, self()},
    watcher_loop(Collector, Groups).
watcher_loop(Collector, Groups) ->
    receive
        {_Ref, join, Group, _Pids} ->
            Collector ! {seen, node(), Group, os:system_time(microsecond)},
            watcher_loop(Collector, Groups);
        {_Ref, leave, _, _} -> watcher_loop(Collector, Groups);
        stop -> ok
    end.

echo() ->
    receive
        {'$gen_call', From, Msg} -> gen:reply(From, Msg), echo();
        stop -> ok
    end.

join_visible([_ | Others]) ->
    Self = self(),
    Watchers = [spawn(N, ?MODULE, watcher, [Self, []]) || N <- Others],
    [receive {watching, W} -> ok after 10000 -> exit(no_watcher) end || W <- Watchers],
    Echo = spawn(hd(Others), ?MODULE, echo, []),
    {Joins, Rtts} = join_loop(0, Echo, [], []),
    report("erl_pg_join_visible_us", median(Joins), "us"),
    report("erl_pg_rtt_us", median(Rtts), "us"),
    [W ! stop || W <- Watchers],
    Echo ! stop,
    ok.

join_loop(?JOINS, _Echo, Joins, Rtts) -> {Joins, Rtts};
join_loop(I, Echo, Joins, Rtts) ->
    Group = {vis, I},
    M = spawn(fun() -> receive stop -> ok end end),
    T0 = os:system_time(microsecond),
    ok = pg:join(Group, M),
    Seen = [receive {seen, _, Group, T} -> T after 10000 -> exit(join_not_seen) end
            || _ <- [1, 2]],
    Us = lists:max(Seen) - T0,
    T1 = erlang:monotonic_time(),
    I = gen_server:call(Echo, I),
    Rtt = erlang:convert_time_unit(erlang:monotonic_time() - T1, native, nanosecond) / 1000,
    M ! stop,
    case I >= ?JOIN_WARM of
        true -> join_loop(I + 1, Echo, [Us | Joins], [Rtt | Rtts]);
        false -> join_loop(I + 1, Echo, Joins, Rtts)
    end.

median(L) ->
    S = lists:sort(L),
    lists:nth(length(S) div 2 + 1, S).

report(Name, Value, Unit) ->
    io:format("~s ~.6g ~s~n", [Name, float(Value), Unit]).
