"""Reads a Linli server through `georeport`, a published GeoReport v2 client (PyPI), the way
any standard Open311 client would: no api_key. Prints what the client returned as JSON, or
{"http_error": status} when it raised on an HTTP error, or {"client_error": message} when the
client itself failed (georeport 0.3.1 cannot read an empty XML list: xmltodict gives None for
`<service_requests></service_requests>`, which it then indexes).

    python open311_client.py BASE FORMAT services
    python open311_client.py BASE FORMAT requests '{"service_code": "general"}'
    python open311_client.py BASE FORMAT request SERVICE_REQUEST_ID
"""

import json
import sys

import requests
from georeport import GeoReport


def main() -> None:
    base, fmt, what = sys.argv[1], sys.argv[2], sys.argv[3]
    client = GeoReport(base, output_format=fmt)
    try:
        if what == "services":
            out = client.get_service_list()
        elif what == "requests":
            filters = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
            out = client.get_service_requests(**filters)
        elif what == "request":
            out = client.get_service_request(sys.argv[4])
        else:
            raise SystemExit(f"unknown call {what}")
    except requests.HTTPError as e:
        out = {"http_error": e.response.status_code}
    except TypeError as e:
        out = {"client_error": str(e)}
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
