"""Verify a lifecycle audit export offline: python3 verify_export.py EXPORT.ndjson [PREV_HASH]"""
import hashlib, json, sys
prev, n = (sys.argv[2] if len(sys.argv) > 2 else "0" * 64), 0
for n, text in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    line = json.loads(text); claimed = line.pop("hash")
    body = json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if line["prev_hash"] != prev or hashlib.sha256(body.encode("utf-8")).hexdigest() != claimed:
        sys.exit(f"NOT OK: line {n} (position {line.get('position')}) breaks the chain")
    prev = claimed
print(f"ok: {n} events, head hash {prev}")
