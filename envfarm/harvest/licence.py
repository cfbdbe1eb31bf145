"""SPDX licence ids from a repository's licence file or metadata (pure)."""

from __future__ import annotations

import re

PERMISSIVE: frozenset[str] = frozenset(
    {"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "0BSD", "Unlicense", "PSF-2.0", "Zlib"}
)
LICENCE_FILES: tuple[str, ...] = (
    "LICENSE",
    "LICENSE.txt",
    "LICENSE.md",
    "LICENSE.rst",
    "LICENCE",
    "LICENCE.txt",
    "COPYING",
    "COPYING.txt",
)
_SPDX_LINE = re.compile(r"SPDX-License-Identifier:\s*(?P<id>[\w.+-]+)")
_FINGERPRINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AGPL-3.0", ("GNU AFFERO GENERAL PUBLIC LICENSE",)),
    ("LGPL-3.0", ("GNU LESSER GENERAL PUBLIC LICENSE", "Version 3")),
    ("LGPL-2.1", ("GNU LESSER GENERAL PUBLIC LICENSE", "Version 2.1")),
    ("GPL-3.0", ("GNU GENERAL PUBLIC LICENSE", "Version 3")),
    ("GPL-2.0", ("GNU GENERAL PUBLIC LICENSE", "Version 2")),
    ("MPL-2.0", ("Mozilla Public License", "2.0")),
    ("Apache-2.0", ("Apache License", "Version 2.0")),
    ("MIT", ("Permission is hereby granted, free of charge",)),
    ("BSD-3-Clause", ("Redistribution and use in source and binary forms", "Neither the name")),
    ("BSD-2-Clause", ("Redistribution and use in source and binary forms",)),
    ("ISC", ("Permission to use, copy, modify, and/or distribute this software for any purpose",)),
    ("Unlicense", ("This is free and unencumbered software released into the public domain",)),
)


def detect_spdx(text: str) -> str | None:
    """The SPDX id of a licence text: an ``SPDX-License-Identifier`` line, else well-known phrases."""
    line = _SPDX_LINE.search(text)
    if line:
        return line.group("id")
    flat = " ".join(text.split())
    for spdx, phrases in _FINGERPRINTS:
        if all(phrase.lower() in flat.lower() for phrase in phrases):
            return spdx
    return None


def allowed(spdx: str | None, allow: frozenset[str] = PERMISSIVE) -> bool:
    """Whether a licence is on the allow-list (case-insensitive; an unknown licence never is)."""
    return spdx is not None and spdx.lower() in {a.lower() for a in allow}
