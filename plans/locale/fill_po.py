"""Fill plans/locale/zh_Hans/LC_MESSAGES/django.po from translations_zh.py, then compile it.

Run from plans/: `django-admin makemessages -l zh_Hans --no-location && python locale/fill_po.py`.
A msgid without a translation is listed and the script fails, so none slips through untranslated.
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


def _unquote(lines: list[str]) -> str:
    return "".join(ast.literal_eval(line) for line in lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def fill() -> list[str]:
    out, missing, msgid, state = [], [], None, None
    for raw in PO.read_text(encoding="utf-8").splitlines():
        line = raw.rstrip("\n")
        if line.startswith("msgid "):
            state, msgid = "id", [line[6:]]
            out.append(line)
        elif line.startswith("msgstr "):
            text = _unquote(msgid)
            state = "str"
            if text == "":
                out.append(line)
                state = "header"
            else:
                if text not in ZH:
                    missing.append(text)
                out.append("msgstr " + _quote(ZH.get(text, "")))
        elif line.startswith('"'):
            if state == "id":
                msgid.append(line)
                out.append(line)
            elif state == "header":
                out.append(line.replace("charset=CHARSET", "charset=UTF-8"))
            # continuation lines of an old msgstr are dropped: the new one is written on one line
        else:
            state = None
            if line.startswith("#, fuzzy"):
                continue
            out.append(line)
    PO.write_text("\n".join(out) + "\n", encoding="utf-8")
    return missing


if __name__ == "__main__":
    missing = fill()
    if missing:
        sys.exit("untranslated: " + "; ".join(missing))
    subprocess.run(["msgfmt", "--check-format", "-o", str(PO.with_suffix(".mo")), str(PO)], check=True)
    print("compiled", PO.with_suffix(".mo"))
