"""Write translations_zh.ZH into zh_Hans/LC_MESSAGES/django.po and compile it.

Run from the project root after `python manage.py makemessages -l zh_Hans --no-location --ignore ...`
(see README). A msgid without a translation is listed and the script exits 1, so none slips through.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from translations_zh import ZH  # noqa: E402

PO = HERE / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def fill() -> list[str]:
    blocks = PO.read_text(encoding="utf-8").split("\n\n")
    out, missing = [blocks[0].replace("charset=CHARSET", "charset=UTF-8")], []
    for block in blocks[1:]:
        lines = [line for line in block.splitlines() if not line.startswith("#, fuzzy") and line.strip()]
        comments = [line for line in lines if line.startswith("#")]
        msgid, plural, context, current = [], [], [], None
        for line in lines:
            if line.startswith("msgctxt "):
                current = context
                context.append(line[8:])
            elif line.startswith("msgid_plural "):
                current = plural
                plural.append(line[13:])
            elif line.startswith("msgid "):
                current = msgid
                msgid.append(line[6:])
            elif line.startswith("msgstr"):
                current = None
            elif line.startswith('"') and current is not None:
                current.append(line)
        if not msgid:
            continue
        text = "".join(ast.literal_eval(x) for x in msgid)
        plural_text = "".join(ast.literal_eval(x) for x in plural)
        ctx = "".join(ast.literal_eval(x) for x in context)
        key = (text, plural_text) if plural_text else (f"{ctx}\x04{text}" if ctx else text)
        if key not in ZH:
            missing.append(repr(key))
        entry = comments + (["msgctxt " + _quote(ctx)] if ctx else []) + ["msgid " + _quote(text)]
        if plural_text:
            entry += ["msgid_plural " + _quote(plural_text), "msgstr[0] " + _quote(ZH.get(key, ""))]
        else:
            entry += ["msgstr " + _quote(ZH.get(key, ""))]
        out.append("\n".join(entry))
    PO.write_text("\n\n".join(out) + "\n", encoding="utf-8")
    return missing


if __name__ == "__main__":
    missing = fill()
    subprocess.run(["msgfmt", "--check-format", "-o", str(PO.with_suffix(".mo")), str(PO)], check=True)
    if missing:
        print("untranslated:", *missing, sep="\n  ")
        sys.exit(1)
