#!/usr/bin/python3
"""Calls a server on an otter node by name, using only pyzmq and msgpack (docs/PROTOCOL.md).

usage: otter_client.py ENDPOINT SECRET_FILE NAME TAG JSON_BODY [--insecure]
e.g.   otter_client.py tcp://127.0.0.1:7001 ~/.otter/secret kv "" '["get", "a"]'
Prints the reply's body as JSON, or the error, and exits 0 on a reply, 1 otherwise.
"""
import hashlib
import json
import os
import sys
import time

import msgpack
import zmq
import zmq.utils.z85 as z85


def node_id(name):  # 64-bit FNV-1a; 0 becomes 1
    h = 14695981039346656037
    for b in name.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h or 1


def blake(data, key=None):
    return hashlib.blake2b(data, key=key or b"", digest_size=32).digest()


def main(argv):
    endpoint, secret_file, target, tag, body = argv[1], argv[2], argv[3], argv[4], argv[5]
    insecure = "--insecure" in argv
    master = blake(open(secret_file, "rb").read())
    name, creation = f"py-{os.getpid()}", int(time.time()) & 0x7FFFFFFF

    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTING_ID, f"{name}#{creation}".encode())
    if not insecure:
        server_secret = z85.encode(blake(b"otter/curve/server/v1", master))
        client_secret = z85.encode(blake(b"otter/curve/client/v1", master))
        sock.curve_serverkey = zmq.curve_public(server_secret)
        sock.curve_publickey = zmq.curve_public(client_secret)
        sock.curve_secretkey = client_secret
    sock.connect(endpoint)

    proof = blake(msgpack.packb([1, name, creation, True, ""]), master)
    sock.send(msgpack.packb([1, 1, name, creation, True, "", proof]))
    me = [node_id(name), 1, creation]
    sent = False
    deadline = time.time() + 10
    next_beat = time.time() + 0.2
    while time.time() < deadline:
        # Once welcomed, a peer silent for 1.5 s is dropped: heartbeat while waiting.
        if sent and time.time() >= next_beat:
            sock.send(msgpack.packb([4]))
            next_beat = time.time() + 0.2
        if not sock.poll(100):
            continue
        unpacker = msgpack.Unpacker()
        unpacker.feed(sock.recv())
        for env in unpacker:
            kind = env[0]
            if kind == 2 and not sent:  # welcome: now call
                sock.send(msgpack.packb([12, target, me, 1, tag, json.loads(body)]))
                sent = True
            elif kind == 3:  # [3, reason, code]
                print("refused:", env[1], file=sys.stderr)
                return 1
            elif kind == 13 and env[3] == 1:
                print(json.dumps(env[5]))
                return 0
            elif kind == 14 and env[3] == 1:
                print(f"error {env[4]}: {env[5][0]}", file=sys.stderr)
                return 1
    print("no answer within 10 s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
