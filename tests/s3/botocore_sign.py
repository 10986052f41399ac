#!/usr/bin/env python3
"""botocore_sign: signs S3 requests with botocore's own SigV4 signer, for
src/sigv4_test.cc to compare fanout's signer against an independent one.

  botocore_sign.py REQUESTS.json   -> one JSON line per request on stdout

Each request: {"method", "host", "path" (decoded), "query": [[name, value]...]
(decoded), "headers": [[name, value]...] (the signed headers fanout sends,
x-amz-date and x-amz-content-sha256 among them), "region", "access_key",
"secret_key", "token"}. botocore encodes the path and query itself (quote,
as its S3 client does), so the encoding is checked too, not only the hashing.
Output: {"authorization", "canonical_request"}. Exits 3 when botocore is
missing (the test skips and says so).
"""
import json
import sys
from urllib.parse import quote

try:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    print("botocore is not installed", file=sys.stderr)
    sys.exit(3)


def sign(req):
    creds = Credentials(req["access_key"], req["secret_key"], req.get("token") or None)
    auth = S3SigV4Auth(creds, "s3", req["region"])
    url = "http://" + req["host"] + quote(req["path"], safe="/~")
    headers = {name: value for name, value in req["headers"]}
    request = AWSRequest(method=req["method"], url=url, headers=headers)
    request.params = [(n, v) for n, v in req["query"]]
    amz_date = next(v for n, v in req["headers"] if n.lower() == "x-amz-date")
    request.context["timestamp"] = amz_date
    if creds.token:
        request.headers["X-Amz-Security-Token"] = creds.token
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    auth._inject_signature_to_request(request, signature)
    return {"authorization": request.headers["Authorization"], "canonical_request": canonical}


def main():
    with open(sys.argv[1]) as f:
        requests = json.load(f)
    for req in requests:
        print(json.dumps(sign(req)))


if __name__ == "__main__":
    main()
