#!/usr/bin/env python3
"""Check every line of `conformance vectors` against signing code written with Python's standard library only.

    conformance vectors --count 10000 --seed 1 > vectors.jsonl
    python3 verify.py vectors.jsonl          # or: conformance vectors --count 10000 | python3 verify.py -

To test your own receiver, make notify_sign() and top_sign() call your code and keep the rest: every vector's
expected sign must come out, and none of its near misses (the signs common mistakes give). Exit 0 when every
vector passes, 1 otherwise (the first failures are printed), 2 on unreadable input.

The line format (schema eticket-sign-vector/1) is described in conformance/README.md, "Test your signing code
before you deploy".
"""

import hashlib
import hmac
import json
import sys

SCHEMA = "eticket-sign-vector/1"


# --- The signing code under test: replace these two with calls into yours. ------------------------------------


def notify_sign(notify_key, params):
    """The notification sign (PROTOCOL §3.3): MD5 over GBK(notify_key + name1value1name2value2...)."""
    return md5_hex(gbk(notify_key + concat(signed_pairs(params))))


def top_sign(app_secret, sign_method, params):
    """A TOP call's sign (PROTOCOL §4.4), empty values skipped as the Java and .NET SDKs do."""
    return top_scheme(app_secret, sign_method, concat(signed_pairs(params)), "utf-8")


# --- The rules, spelled out once. ------------------------------------------------------------------------------


def signed_pairs(params, include_empty=False):
    """Every param but `sign`, empty values left out, sorted by name in byte order."""
    pairs = [(n, v) for n, v in params.items() if n != "sign" and (include_empty or v != "")]
    return sorted(pairs, key=lambda pair: pair[0].encode("utf-8"))


def concat(pairs):
    return "".join(name + value for name, value in pairs)


def gbk(text):
    """GBK bytes; each character GBK cannot encode (an emoji) becomes one '?' (PROTOCOL §3.3 step 5)."""
    return text.encode("gbk", errors="replace")


def md5_hex(data):
    return hashlib.md5(data).hexdigest().upper()


def top_scheme(secret, sign_method, text, encoding):
    key, data = secret.encode(encoding), text.encode(encoding, errors="replace")
    if sign_method == "md5":
        return md5_hex(key + data + key)
    if sign_method == "hmac":
        return hmac.new(key, data, hashlib.md5).hexdigest().upper()
    if sign_method == "hmac-sha256":
        return hmac.new(key, data, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown sign_method {sign_method!r}")


# --- The near misses: how each labelled mistake computes its sign. ----------------------------------------------

NOTIFY_MISTAKES = {
    "utf8_instead_of_gbk": lambda v, m: md5_hex((v["key"] + concat(signed_pairs(v["params"]))).encode("utf-8")),
    "key_at_both_ends": lambda v, m: md5_hex(gbk(v["key"] + concat(signed_pairs(v["params"])) + v["key"])),
    "empty_values_signed": lambda v, m: md5_hex(gbk(v["key"] + concat(signed_pairs(v["params"], True)))),
    "app_secret_instead_of_notify_key": lambda v, m: notify_sign(m["other_secret"], v["params"]),
}

TOP_MISTAKES = {
    "signed_as_md5": lambda v, m: top_sign(v["secret"], "md5", v["params"]),
    "signed_as_hmac": lambda v, m: top_sign(v["secret"], "hmac", v["params"]),
    "signed_as_hmac_sha256": lambda v, m: top_sign(v["secret"], "hmac-sha256", v["params"]),
    "gbk_instead_of_utf8": lambda v, m: top_scheme(v["secret"], v["sign_method"], concat(signed_pairs(v["params"])), "gbk"),
    "notification_scheme": lambda v, m: notify_sign(v["secret"], v["params"]),
    "secret_in_front_only": lambda v, m: md5_hex((v["secret"] + concat(signed_pairs(v["params"]))).encode("utf-8")),
    "notify_key_instead_of_app_secret": lambda v, m: top_sign(m["other_secret"], v["sign_method"], v["params"]),
}


# --- Checking one vector. ---------------------------------------------------------------------------------------


def check(vector, stats):
    """The reasons this vector fails (an empty list when it passes)."""
    if vector.get("schema") != SCHEMA:
        return [f"schema {vector.get('schema')!r}, this script reads {SCHEMA}"]
    params, expected = vector["params"], vector["expected_sign"]
    errors = []
    if vector["kind"] == "notify":
        canonical = gbk(vector["key"] + concat(signed_pairs(params))).hex()
        if canonical != vector["canonical_gbk_hex"]:
            errors.append(f"canonical string {canonical} != {vector['canonical_gbk_hex']}")
        got = notify_sign(vector["key"], params)
        mistakes = NOTIFY_MISTAKES
    else:
        if vector["sign_method"] != params.get("sign_method", "md5"):
            errors.append(f"sign_method {vector['sign_method']} is not the params' one")
        got = top_sign(vector["secret"], vector["sign_method"], params)
        # The gateway also accepts empty values signed as name + "" (Python/Node SDKs, PROTOCOL §4.4).
        if any(v == "" for n, v in params.items() if n != "sign"):
            pairs = concat(signed_pairs(params, include_empty=True))
            also = [top_scheme(vector["secret"], vector["sign_method"], pairs, "utf-8")]
        else:
            also = []
        if also != vector["also_accepted"]:
            errors.append(f"also_accepted {vector['also_accepted']} != {also}")
        mistakes = TOP_MISTAKES
    if not hmac.compare_digest(got, expected):
        named = [m["mistake"] for m in vector["near_misses"] if m["sign"] == got]
        errors.append(f"sign {got} != expected {expected}" + (f" (that is the mistake {named[0]})" if named else ""))
    if params.get("sign") != expected:
        errors.append("the params' sign is not the expected sign")
    for near_miss in vector["near_misses"]:
        label, sign = near_miss["mistake"], near_miss["sign"]
        if sign == expected:
            errors.append(f"near miss {label} gives the expected sign")
        compute = mistakes.get(label)
        if compute is None:
            stats["unknown"] += 1  # a label newer than this script: only checked to differ from the expected sign
        elif compute(vector, near_miss) != sign:
            errors.append(f"near miss {label}: {compute(vector, near_miss)} != {sign}")
        else:
            stats["near_misses"] += 1
    return errors


def main(argv):
    source = argv[1] if len(argv) > 1 else "-"
    stream = sys.stdin if source == "-" else open(source, encoding="utf-8")
    stats = {"notify": 0, "top": 0, "near_misses": 0, "unknown": 0}
    failures = 0
    for number, line in enumerate(stream, start=1):
        try:
            vector = json.loads(line)
        except json.JSONDecodeError as e:
            print(f"line {number}: not JSON: {e}", file=sys.stderr)
            return 2
        errors = check(vector, stats)
        stats[vector["kind"]] += 1
        if errors:
            failures += 1
            if failures <= 10:
                where = f"line {number} (seed {vector.get('seed')}, index {vector.get('index')})"
                print(f"FAIL {where}: " + "; ".join(errors))
    total = stats["notify"] + stats["top"]
    print(
        f"{total - failures} of {total} vectors pass ({stats['notify']} notify, {stats['top']} top); "
        f"{stats['near_misses']} near misses recomputed, {stats['unknown']} with an unknown label"
    )
    return 1 if failures or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
