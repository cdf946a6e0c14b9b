"""An employee's signature page, ready to copy: its structure read with an HTML parser (headings, the copy
buttons and their live region, the HTML source with its label, the steps per mail client in <details>), the
script from a static file, and empty states that say what to do next."""

from __future__ import annotations

from html.parser import HTMLParser

from sqlmodel import Session

from portal.models import Department, Employee, Organization, SignatureTemplate
from portal.signatures import render as rendering
from portal.signatures import service

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.parent, self.children = tag, parent, []
        self.attrs = {name: value or "" for name, value in attrs.items()}  # <p hidden>: "hidden" is ""

    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag and all(child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                    found.append(child)
                found.extend(child.find_all(tag, **attrs))
        return found

    def find(self, tag: str, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}>"
        return found[0]


class Tree(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.at = Node("#document", {}, None)
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.at)
        self.at.children.append(node)
        if tag not in VOID:
            self.at = node

    def handle_endtag(self, tag: str) -> None:
        at = self.at
        while at is not None and at.tag != tag:
            at = at.parent
        if at is not None and at.parent is not None:
            self.at = at.parent

    def handle_data(self, data: str) -> None:
        self.at.children.append(data)


def _page(signed_in, employee: Employee) -> Node:
    response = signed_in.get(f"/signatures/employee/{employee.id}")
    assert response.status_code == 200
    return Tree(response.get_data(as_text=True)).root


def _template(db: Session, org: Organization, name: str, html: str) -> SignatureTemplate:
    checked, errors = service.check(name, html)
    assert not errors, errors
    template = service.save(db, SignatureTemplate(organization_id=org.id, name="", html=""), name, checked)
    db.commit()
    return template


def _employee(db: Session, org: Organization) -> Employee:
    person = Employee(organization_id=org.id, email="zoe@acme.example", display_name="Zoë <b>Bold</b>",
                      job_title="Sales", mobile="")
    db.add(person)
    db.commit()
    return person


def test_the_signature_is_shown_ready_to_copy_with_steps_for_each_mail_client(signed_in, db, org) -> None:
    standard = _template(db, org, "Standard", '<p style="color: #0b5394"><b>{{ full_name }}</b><br>'
                                              "Mobile: {{ mobile }}<br>{{ job_title }}</p>")
    service.assign(db, org.id, "default", "new", standard.id)
    db.commit()
    person = _employee(db, org)
    page = _page(signed_in, person)

    assert [h.text() for h in page.find_all("h1")] == ["Signatures of Zoë <b>Bold</b>"]
    assert [h.text() for h in page.find_all("h2")] == [
        "New e-mails: Standard", "Replies and forwards: Standard", "Paste the signature into a mail client",
        "This employee's own signatures"]
    expected = rendering.render(rendering.compile_template(standard.html), service.context_for_employee(db, person))
    for compose, label in (("new", "new e-mails"), ("reply", "replies and forwards")):
        section = page.find("section", id=f"sig-{compose}")
        # the buttons come with the script that makes them work (hidden until it runs), named for what they do
        actions = section.find("p", data_copy_actions="")
        assert "hidden" in actions.attrs
        buttons = actions.find_all("button")
        assert [(b.attrs["type"], b.attrs["data-copy"], b.text()) for b in buttons] == [
            ("button", "rich", f"Copy signature for {label}"), ("button", "source", f"Copy HTML source for {label}")]
        status = section.find("p", id=f"copy-status-{compose}")
        assert (status.attrs["role"], status.attrs["aria-live"], status.text()) == ("status", "polite", "")
        # what is copied: the rendered HTML (data escaped) in a labelled box, and the plain text
        source = section.find("textarea", id=f"sig-{compose}-html")
        assert "readonly" in source.attrs
        assert source.text() == expected.html
        assert "Zoë &lt;b&gt;Bold&lt;/b&gt;" in source.text() and "Mobile" not in source.text()
        assert section.find("label", **{"for": f"sig-{compose}-html"}).text() == f"HTML of the signature for {label}"
        assert section.find("pre", id=f"sig-{compose}-text").text() == expected.text
        assert [d.find("summary").text() for d in section.find_all("details")] == ["HTML source", "Plain text"]
        frame = section.find("iframe")
        assert frame.attrs["sandbox"] == "" and frame.attrs["title"].endswith("signature of zoe@acme.example")

    clients = page.find("section", id="mail-clients")
    steps = {d.find("summary").text(): " ".join(li.text() for li in d.find("ol").find_all("li"))
             for d in clients.find_all("details")}
    assert list(steps) == ["Outlook on the web and the new Outlook for Windows", "Classic Outlook for Windows",
                           "Apple Mail", "Gmail"]
    assert "Settings (the gear icon), then Account, then Signatures" in steps[list(steps)[0]]
    assert "File, then Options, then Mail, then “Signatures…”" in steps["Classic Outlook for Windows"]
    assert "Always match my default message font" in steps["Apple Mail"]
    assert "“See all settings”, then the General tab" in steps["Gmail"]
    assert "Signature defaults" in steps["Gmail"]

    scripts = page.find_all("script")
    assert all(s.attrs.get("src") for s in scripts), "the CSP allows no inline script"
    assert "/static/signature-copy.js" in [s.attrs["src"] for s in scripts]
    with signed_in.get("/static/signature-copy.js") as script:
        assert script.status_code == 200 and "javascript" in script.mimetype
        assert "ClipboardItem" in script.get_data(as_text=True)


def test_without_a_signature_the_page_says_what_to_do_next(signed_in, db, org) -> None:
    person = _employee(db, org)
    page = _page(signed_in, person)
    new_section = page.find("section", id="sig-new")
    assert "Design the first one" in new_section.text()
    assert [a.attrs["href"] for a in new_section.find_all("a")] == ["/signatures/new", "/signatures/"]
    assert not page.find_all("button", data_copy="rich")
    assert "Design one" in page.find("section", aria_labelledby="override-title").text()

    _template(db, org, "Standard", "<p>{{ full_name }}</p>")
    page = _page(signed_in, person)
    hrefs = [a.attrs["href"] for a in page.find("section", id="sig-new").find_all("a")]
    assert hrefs == ["/signatures/#default", "/signatures/#departments", "#override-title"]
    assert page.find("select", id="override-new")


def test_a_signature_longer_than_gmail_takes_says_so(signed_in, db, org) -> None:
    long = _template(db, org, "Long", "<p>{{ full_name }}</p>" + "<p>Our offices around the world.</p>" * 350)
    service.assign(db, org.id, "default", "new", long.id)
    db.commit()
    page = _page(signed_in, _employee(db, org))
    warnings = [p.text() for p in page.find("section", id="sig-new").find_all("p")
                if "notice-warning" in (p.attrs.get("class") or "")]
    assert len(warnings) == 1 and "Gmail accepts at most 10,000" in warnings[0]


def test_the_way_from_a_new_signature_to_an_employees_page_has_no_dead_ends(signed_in, db, org) -> None:
    template = _template(db, org, "Standard", "<p>{{ full_name }}</p>")
    sales = Department(organization_id=org.id, name="Sales")
    db.add(sales)
    db.commit()
    editor = Tree(signed_in.get(f"/signatures/{template.id}").get_data(as_text=True)).root
    hint = [p for p in editor.find_all("p") if p.text().startswith("Not assigned yet")]
    assert [a.attrs["href"] for a in hint[0].find_all("a")] == ["/signatures/#default", "/signatures/#departments"]
    # the Signatures page leads to the department (its members, each with a page of their own) and to the order
    index = Tree(signed_in.get("/signatures/").get_data(as_text=True)).root
    departments = index.find("section", id="departments")
    hrefs = [a.attrs["href"] for a in departments.find_all("a")]
    assert "/departments/#signature-order" in hrefs and f"/departments/{sales.id}" in hrefs
