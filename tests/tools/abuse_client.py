#!/usr/bin/python3
"""A client that abuses an otter node, speaking docs/PROTOCOL.md with pyzmq and msgpack only.

usage: abuse_client.py MODE ENDPOINT SECRET_FILE TARGET [SECONDS]
  noread  calls TARGET in a loop as fast as it can and never reads a reply (until killed)
  casts   casts to TARGET as fast as it can for SECONDS, then prints `casts_sent N` and exits
  big     calls TARGET with a 65 MiB body (over the node's 64 MiB frame limit) twice a second
          for SECONDS, then prints `big_sent N` and exits
Prints `WELCOMED` once the node took its hello, before the abuse starts.
"""
import os
import sys
import time

import msgpack
import zmq

# The node id and the key derivation as docs/PROTOCOL.md gives them, from its example client.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../docs/examples"))
from otter_client import blake, node_id  # noqa: E402
import zmq.utils.z85 as z85  # noqa: E402


def connect(endpoint, secret_file):
    master = blake(open(secret_file, "rb").read())
    name, creation = f"abuse-{os.getpid()}", int(time.time()) & 0x7FFFFFFF
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTING_ID, f"{name}#{creation}".encode())
    server_secret = z85.encode(blake(b"otter/curve/server/v1", master))
    client_secret = z85.encode(blake(b"otter/curve/client/v1", master))
    sock.curve_serverkey = zmq.curve_public(server_secret)
    sock.curve_publickey = zmq.curve_public(client_secret)
    sock.curve_secretkey = client_secret
    sock.connect(endpoint)
    proof = blake(msgpack.packb([1, name, creation, True, ""]), master)
    sock.send(msgpack.packb([1, 1, name, creation, True, "", proof]))
    deadline = time.time() + 10
    while time.time() < deadline:
        if not sock.poll(100):
            continue
        for env in unpack(sock.recv()):
            if env[0] == 2:
                return sock, [node_id(name), 1, creation]
            if env[0] == 3:
                sys.exit(f"refused: {env[1]}")
    sys.exit("no welcome within 10 s")


def unpack(data):
    u = msgpack.Unpacker()
    u.feed(data)
    return list(u)


def main(argv):
    mode, endpoint, secret_file, target = argv[1:5]
    sock, me = connect(endpoint, secret_file)
    print("WELCOMED", flush=True)
    if mode == "noread":
        # Frames of 500 calls (the same ones again: the node answers each), as fast as TCP
        # takes them.
        frame = b"".join(msgpack.packb([12, target, me, i + 1, "", ["ping", i]]) for i in range(500))
        while True:
            sock.send(frame)
    elif mode == "casts":
        until = time.time() + float(argv[5])
        sent = 0
        frame = b"".join(msgpack.packb([11, target, me, 0, "flood", [i, "x" * 32]])
                         for i in range(100))
        while time.time() < until:
            sock.send(frame)
            sent += 100
        print(f"casts_sent {sent}", flush=True)
    elif mode == "big":
        # Over ZMQ_MAXMSGSIZE: the node's ZeroMQ drops the connection at each one (the DEALER
        # connects again by itself), and nothing of it reaches the node's own code.
        until = time.time() + float(argv[5])
        frame = msgpack.packb([12, target, me, 1, "", ["echo", "x" * (65 << 20)]])
        sent = 0
        while time.time() < until:
            sock.send(frame)
            sent += 1
            time.sleep(0.5)
        print(f"big_sent {sent}", flush=True)
    else:
        sys.exit(f"unknown mode {mode}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
