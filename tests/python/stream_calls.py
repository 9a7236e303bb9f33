"""A telephony platform that is not callscope's own code: Python stubs
generated from proto/callscope/v1/callscope.proto with grpcio-tools stream
several WAV recordings to StreamCall at once and collect the events.

Usage: stream_calls.py SERVER OUT_DIR SPEED FILE...
Prints one JSON object: per call id, the events received (as dicts).
"""

import json
import os
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "..", "proto")


def generate_stubs(out_dir):
    """Compiles the proto into Python modules under out_dir."""
    from grpc_tools import protoc  # noqa: PLC0415

    proto = os.path.join(PROTO_ROOT, "callscope", "v1", "callscope.proto")
    rc = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            proto,
        ]
    )
    if rc != 0:
        sys.exit(f"protoc failed with {rc}")
    sys.path.insert(0, out_dir)


def read_wav(path):
    """(format tag, channels, rate, sample width, data bytes) of a WAV file.
    The stdlib wave module reads PCM only, SIP recorders write G.711."""
    with open(path, "rb") as f:
        blob = f.read()
    if blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        sys.exit(f"{path}: not a RIFF/WAVE file")
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(blob):
        cid, size = blob[pos : pos + 4], struct.unpack("<I", blob[pos + 4 : pos + 8])[0]
        body = blob[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", body[:16])
            fmt = (tag, channels, rate, align // channels)
        elif cid == b"data":
            data = body
        pos += 8 + size + (size & 1)
    if fmt is None or data is None:
        sys.exit(f"{path}: no fmt or data chunk")
    return fmt + (data,)


def stream_call(stub, pb, path, call_id, speed, out):
    tag, channels, rate, width, data = read_wav(path)
    encoding = {1: pb.AUDIO_ENCODING_PCM16LE, 7: pb.AUDIO_ENCODING_MULAW, 6: pb.AUDIO_ENCODING_ALAW}[tag]
    frame = channels * width
    chunk = rate // 25 * frame  # 40 ms

    def requests():
        yield pb.CallInput(
            start=pb.CallStart(
                call_id=call_id,
                agent_id="py-agent",
                encoding=encoding,
                sample_rate=rate,
                channels=channels,
                agent_channel=0,
            )
        )
        t0 = time.monotonic()
        for i, off in enumerate(range(0, len(data) - len(data) % frame, chunk)):
            if speed > 0:
                due = t0 + i * 0.04 / speed
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield pb.CallInput(audio=pb.AudioChunk(data=data[off : off + chunk]))
        yield pb.CallInput(end=pb.CallEnd())

    from google.protobuf.json_format import MessageToDict  # noqa: PLC0415

    events = []
    for ev in stub.StreamCall(requests()):
        events.append(MessageToDict(ev, preserving_proto_field_name=True))
    out[call_id] = events


def main():
    server, out_dir, speed, files = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
    generate_stubs(out_dir)
    import grpc  # noqa: PLC0415
    from callscope.v1 import callscope_pb2 as pb  # noqa: PLC0415
    from callscope.v1 import callscope_pb2_grpc as rpc  # noqa: PLC0415

    channel = grpc.insecure_channel(server)
    stub = rpc.CallScopeStub(channel)
    out = {}
    threads = []
    for path in files:
        call_id = "py-" + os.path.splitext(os.path.basename(path))[0]
        t = threading.Thread(target=stream_call, args=(stub, pb, path, call_id, speed, out))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    listed = stub.ListCalls(pb.ListCallsRequest())
    json.dump({"calls": out, "listed": [c.call_id for c in listed.calls]}, sys.stdout)


if __name__ == "__main__":
    main()
