#!/usr/bin/env python3
"""Derives the webhook_parse seed corpus from the real Monday deliveries.

Every delivery body in the reference file (the challenge handshake, the official samples and
the captured 2025 deliveries) becomes one seed file in fuzz/corpus/webhook_parse/, named
SECTION-NAME.json, holding the body as Monday POSTs it (`json.dumps`, key order kept). The
reference file itself is not copied into the repository.

    python3 fuzz/seed_webhooks.py [REFERENCE] [--check]

REFERENCE defaults to ../shared/reference/monday/webhook-samples.json beside the repository.
--check writes nothing and exits 1 when a seed is missing or differs from the reference.
Python's standard library only.
"""

import json
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
CORPUS = FUZZ / "corpus" / "webhook_parse"
DEFAULT_REFERENCE = FUZZ.parent.parent / "shared" / "reference" / "monday" / "webhook-samples.json"


def deliveries(reference):
    """(file name, body) for every delivery body in the reference file."""
    samples = json.loads(reference.read_text(encoding="utf-8"))
    for section, value in samples.items():
        if section.startswith("_") or not isinstance(value, dict):
            continue
        if "challenge" in value:
            # challenge_request / challenge_response: the body itself.
            yield f"{section}.json", value
        elif all(isinstance(b, dict) and "event" in b for b in value.values()):
            # official / captured_2025: a name -> {"event": {...}} table of deliveries.
            for name, body in value.items():
                yield f"{section}-{name}.json", body
        # Anything else (jwt_claims_example_official: JWT claims, not a body) is no delivery.


def main(argv):
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    if len(paths) > 1:
        sys.exit(__doc__)
    reference = Path(paths[0]) if paths else DEFAULT_REFERENCE
    if not reference.is_file():
        sys.exit(f"seed_webhooks: no reference file at {reference} (pass its path)")
    stale = []
    count = 0
    for name, body in deliveries(reference):
        count += 1
        text = json.dumps(body, ensure_ascii=False)
        seed = CORPUS / name
        if seed.is_file() and seed.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not check:
            CORPUS.mkdir(parents=True, exist_ok=True)
            seed.write_text(text, encoding="utf-8")
    if check and stale:
        sys.exit(f"seed_webhooks: {len(stale)} of {count} seeds missing or stale: {', '.join(stale)}")
    verb = "would write" if check else "wrote"
    print(f"seed_webhooks: {count} deliveries from {reference}; {verb} {len(stale)} seed(s)")


if __name__ == "__main__":
    main(sys.argv[1:])
