"""Han (Chinese) characters: the one range every pattern that looks for them is built from."""

from __future__ import annotations

import re

# CJK Unified Ideographs with Extension A, and the compatibility ideographs (NFKC folds most of
# these to unified ones; the dozen it keeps are ideographs too). For use inside a character class:
# rf"[{HAN}]", rf"[{HAN}A-Za-z]".
HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN_CHAR = re.compile(f"[{HAN}]")
