"""Stock gRPC tools against callscope over TLS: the health check (as
grpc_health_probe does it), the reflection client of grpcio-reflection
(it speaks grpc.reflection.v1alpha) listing the services, and a call without
and with a bearer token.

Usage: reflect_tls.py HOST:PORT CA.pem TOKEN  -> JSON on stdout.
"""
import json
import sys

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def main():
    target, ca_path, token = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(ca_path, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    out = {}
    with grpc.secure_channel(target, creds) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for name in ["", "callscope.v1.CallScope"]:
            r = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10)
            out["health:" + name] = health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)
        db = ProtoReflectionDescriptorDatabase(ch)
        out["services"] = sorted(db.get_services())
        pool = DescriptorPool(db)
        svc = pool.FindServiceByName("callscope.v1.CallScope")
        out["methods"] = sorted(m.name for m in svc.methods)
        list_calls = ch.unary_unary(
            "/callscope.v1.CallScope/ListCalls",
            request_serializer=lambda _: b"",
            response_deserializer=lambda b: b,
        )
        try:
            list_calls(None, timeout=10)
            out["anonymous"] = "OK"
        except grpc.RpcError as e:
            out["anonymous"] = e.code().name
        list_calls(None, timeout=10, metadata=[("authorization", "Bearer " + token)])
        out["with_token"] = "OK"
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
