%% Erlang's counterparts of otter-bench net's remote call figures, measured the same way
%% (bench/net_bench.cpp): this node and one peer node on this machine, a gen_server on the peer
%% echoing what it is called with.
%% - erl_remote_call_us: mean round trip of gen_server:call with an 80-byte body, one caller,
%%   2 s after 2,000 calls of warm-up; erl_remote_call_p99_us, erl_remote_call_p999_us: the
%%   99th and 99.9th percentile of those calls.
%% - erl_remote_call_64k_us: the same with a 64 KiB body, 1 s after 200 calls of warm-up.
%% - erl_remote_call_concurrent_per_s: 100 processes on this node calling the one server at once
%%   for 2 s (after 0.3 s of warm-up), calls per second of them all.
%% Run: erl -noshell -sname remotebench@localhost -setcookie otterbench -pa DIR -s remote_bench main
-module(remote_bench).
-behaviour(gen_server).
-export([main/0, start_echo/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2]).

-define(CALLERS, 100).

main() ->
    try run() of
        ok -> erlang:halt(0)
    catch C:R:S ->
        io:format(standard_error, "remote_bench: ~p:~p~n~p~n", [C, R, S]),
        erlang:halt(1)
    end.

run() ->
    Dir = filename:dirname(code:which(?MODULE)),
    Args = ["-setcookie", atom_to_list(erlang:get_cookie()), "-pa", Dir],
    {ok, Peer, Node} = peer:start_link(#{name => peer:random_name(remotebench),
                                         host => "localhost", args => Args}),
    Srv = erpc:call(Node, ?MODULE, start_echo, []),
    Small = binary:copy(<<"x">>, 80),
    Big = binary:copy(<<"x">>, 64 * 1024),
    {Mean, Sorted} = timed_calls(Srv, Small, 2000, 2000),
    emit("erl_remote_call_us", Mean, "us"),
    emit("erl_remote_call_p99_us", percentile(Sorted, 99, 100), "us"),
    emit("erl_remote_call_p999_us", percentile(Sorted, 999, 1000), "us"),
    {MeanBig, _} = timed_calls(Srv, Big, 200, 1000),
    emit("erl_remote_call_64k_us", MeanBig, "us"),
    _ = concurrent(Srv, Small, 300),
    emit("erl_remote_call_concurrent_per_s", concurrent(Srv, Small, 2000), "calls/s"),
    peer:stop(Peer),
    ok.

%% The echo server, started on the peer node (outside the erpc call's process, which exits).
start_echo() ->
    {ok, P} = gen_server:start(?MODULE, [], []),
    P.

init([]) -> {ok, nostate}.
handle_call({echo, Seq, Body}, _From, S) -> {reply, {echo, Seq, Body}, S}.
handle_cast(_Msg, S) -> {noreply, S}.
handle_info(_Msg, S) -> {noreply, S}.

now_ns() -> erlang:monotonic_time(nanosecond).

call(Srv, Seq, Body) ->
    {echo, Seq, _} = gen_server:call(Srv, {echo, Seq, Body}, 60000).

%% Warm-up calls, then calls for Millis: the mean round trip (us) and every one, sorted.
timed_calls(Srv, Body, Warm, Millis) ->
    [call(Srv, I, Body) || I <- lists:seq(1, Warm)],
    T0 = now_ns(),
    Until = T0 + Millis * 1000000,
    Samples = timed_loop(Srv, Body, Until, 0, []),
    Mean = (now_ns() - T0) / 1000 / length(Samples),
    {Mean, lists:sort(Samples)}.

timed_loop(Srv, Body, Until, Seq, Acc) ->
    A = now_ns(),
    case A >= Until of
        true -> Acc;
        false ->
            call(Srv, Seq, Body),
            timed_loop(Srv, Body, Until, Seq + 1, [(now_ns() - A) / 1000 | Acc])
    end.

percentile(Sorted, K, Of) -> lists:nth(length(Sorted) * K div Of + 1, Sorted).

%% ?CALLERS processes call Srv in a loop for Millis at once: calls per second of them all.
concurrent(Srv, Body, Millis) ->
    Self = self(),
    T0 = now_ns(),
    Until = T0 + Millis * 1000000,
    [spawn_link(fun() -> Self ! {done, burst(Srv, Body, Until, 0)} end)
     || _ <- lists:seq(1, ?CALLERS)],
    Ops = lists:sum([receive {done, N} -> N end || _ <- lists:seq(1, ?CALLERS)]),
    Ops / ((now_ns() - T0) / 1.0e9).

burst(Srv, Body, Until, N) ->
    case now_ns() >= Until of
        true -> N;
        false -> call(Srv, N, Body), burst(Srv, Body, Until, N + 1)
    end.

emit(Name, Value, Unit) ->
    io:format("~s ~s ~s~n", [Name, float_to_list(float(Value), [{decimals, 3}, compact]), Unit]).
