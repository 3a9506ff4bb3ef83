"""What the editor's insert buttons put in a body: the campaign's data as template text.

Authors press a button ("Contacts table", a contact, a portal address) instead of typing
template tags; the English body uses each row's English wording where it has one.
"""

from __future__ import annotations

from broadcaster.web.admin import campaign_form as cf

# Table headings per locale, in the order of the columns shown.
HEADINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "contacts": {
        "vi": ("Đầu mối", "Đơn vị", "Điện thoại", "Thư điện tử", "Thời gian hỗ trợ"),
        "en": ("Contact", "Unit", "Phone", "Email", "Hours"),
    },
    "points": {
        "vi": ("Điểm hỗ trợ", "Địa chỉ", "Điện thoại", "Thời gian"),
        "en": ("Support point", "Address", "Phone", "Hours"),
    },
}
PHONE = '[{{ %s.phone }}](tel:{{ %s.phone | replace(" ", "") }})'


def _table(name: str, locale: str) -> str:
    var = name[0]  # c, p
    # English wording where a row has it, the Vietnamese otherwise.
    word = "{{ V.F }}" if locale == "vi" else "{{ t.F | default(V.F) }}"
    word = word.replace("V", var)
    cells = {
        "name": word.replace("F", "name"),
        "unit": word.replace("F", "unit"),
        "address": word.replace("F", "address"),
        "hours": word.replace("F", "hours"),
        "phone": PHONE % (var, var),
        "email": f"<{{{{ {var}.email }}}}>",
    }
    fields, _ = cf.TABLES[name]
    head = HEADINGS[name][locale]
    lines = [
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" for _ in head) + " |",
        f"{{% for {var} in data.{name} -%}}",
    ]
    if locale != "vi":
        lines.append(f"{{% set t = {var}.en if {var}.en is defined else {var} -%}}")
    lines += ["| " + " | ".join(cells[f] for f in fields) + " |", "{% endfor %}"]
    return "\n".join(lines)


def _contact(i: int, row: dict[str, str], locale: str) -> str:
    item = f"data.contacts[{i}]"
    words = f"{item}.en" if locale != "vi" and any(row.get(f"en-{f}") for f in ("name",)) else item
    text = f"**{{{{ {words}.name }}}}**"
    if row.get("phone"):
        text += f": {PHONE % (item, item)}"
    if row.get("email"):
        text += f", <{{{{ {item}.email }}}}>"
    return text


def snippets(form: cf.CampaignForm) -> dict[str, dict[str, tuple[str, str]]]:
    """locale -> button key -> (button label, text inserted)."""
    found: dict[str, dict[str, tuple[str, str]]] = {}
    for locale in cf.LOCALES:
        mine: dict[str, tuple[str, str]] = {}
        for name in cf.TABLES:
            if form.tables.get(name) or name in form.locked:
                mine[f"{name}-table"] = (f"{name}-table", _table(name, locale))
        for i, row in enumerate(form.tables.get("contacts", [])):
            if row.get("name") and "contacts" not in form.locked:
                label = row["name"]
                if locale != "vi" and row.get("en-name"):
                    label = row["en-name"]
                mine[f"contact-{i}"] = (label, _contact(i, row, locale))
        for row in form.tables.get(cf.LINKS, []):
            key = row.get("key", "")
            if key.isidentifier():
                mine[f"link-{key}"] = (row.get("value") or key, f"<{{{{ data.{key} }}}}>")
        found[locale] = mine
    return found
