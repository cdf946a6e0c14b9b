"""``python -m bench signatures``: render every signature of a 100,000-employee organisation.

    python -m bench signatures [--employees 100000]

SQLite in a temporary directory, employees bulk inserted as for ``python -m bench portal``. Two
templates (a full one for new e-mails, a short one for replies), the default plus a department
assignment for a third of the departments and department order positions, so resolving is real. Every
employee's new and reply signature is resolved and rendered (HTML and the plain text; both templates
are ones ``render`` proves need no sanitizer pass on output) in one process, one core. The figure is
signatures per second of that process's CPU time; the wall clock is shown too (on a shared machine it
also counts other processes' turns). Measured in the same run, beside it:

- the same loop with nh3 over every rendered signature (how every signature was rendered before, and
  how a template that cannot be proved safe still is);
- two floors over the same rows: the bare Jinja render of both templates' HTML (sandbox and
  autoescape, no empty-line rule, no text version, no resolving), and the new-mail template's HTML
  filled by ``str.format`` with ``html.escape``d values.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import Session, select

from bench.portal import populate
from portal.db import get_engine
from portal.employees.fields import EMPLOYEE_FIELDS
from portal.migrations import upgrade
from portal.models import (
    Department,
    Employee,
    EmployeeDepartment,
    SignatureAssignment,
    SignatureDepartmentOrder,
    SignatureTemplate,
    utcnow,
)
from portal.signatures import render as rendering
from portal.signatures.resolve import Membership, load_slots, resolve

TARGET_PER_SECOND = 5_000

NEW_TEMPLATE = """<table cellpadding="0" cellspacing="0"
 style="font-family: Arial, sans-serif; font-size: 13px; color: #333333">
<tr><td><img src="{{ photo_url }}" alt="Photo" width="96" height="96"></td></tr>
<tr><td style="padding-bottom: 6px"><b style="font-size: 15px; color: #0b5394">{{ full_name }}</b><br>
{{ job_title }}<br>{{ departments }}</td></tr>
<tr><td>Phone: <a href="tel:{{ phone }}" style="color: #333333">{{ phone }}</a><br>
Mobile: <a href="tel:{{ mobile }}" style="color: #333333">{{ mobile }}</a><br>
E-mail: <a href="mailto:{{ email }}" style="color: #0b5394">{{ email }}</a></td></tr>
<tr><td style="padding-top: 6px; font-size: 11px; color: #777777">
{{ company }} · {{ street }} · {{ postal_code }} {{ city }}<br>
{{ country }}</td></tr>
</table>"""
REPLY_TEMPLATE = """<p style="font-family: Arial, sans-serif; font-size: 13px">{{ full_name }} · {{ job_title }}<br>
<a href="mailto:{{ email }}">{{ email }}</a></p>"""


def _setup(url: str, employees: int) -> tuple[int, float]:
    upgrade(url)
    engine = get_engine(url)
    setup = populate(engine, employees)
    org_id = setup["org_id"]
    departments = setup["departments"]
    with engine.begin() as conn:
        ids = [conn.execute(insert(SignatureTemplate).returning(SignatureTemplate.id), {
            "organization_id": org_id, "name": name, "html": rendering.prepare(source).html, "text": "",
            "text_is_custom": False, "created_at": utcnow(), "updated_at": utcnow()}).scalar_one()
            for name, source in (("Full", NEW_TEMPLATE), ("Reply", REPLY_TEMPLATE))]
        rows = [{"organization_id": org_id, "target": "default", "compose": "new", "template_id": ids[0],
                 "created_at": utcnow()},
                {"organization_id": org_id, "target": "default", "compose": "reply", "template_id": ids[1],
                 "created_at": utcnow()}]
        rows += [{"organization_id": org_id, "target": f"department:{dep}", "compose": "new", "template_id": ids[0],
                  "department_id": dep, "created_at": utcnow()} for dep in departments[::3]]
        conn.execute(insert(SignatureAssignment), rows)
        conn.execute(insert(SignatureDepartmentOrder), [
            {"department_id": dep, "organization_id": org_id, "position": n + 1}
            for n, dep in enumerate(departments[::2])])
    return org_id, setup["insert_s"]


def _rows(session: Session, org_id: int) -> list[tuple[dict, list[Membership]]]:
    """Every employee's fields and departments (read once; the render loop is what is measured)."""
    positions = dict(session.exec(select(SignatureDepartmentOrder.department_id, SignatureDepartmentOrder.position)
                                  .where(SignatureDepartmentOrder.organization_id == org_id)).all())
    names = dict(session.exec(select(Department.id, Department.name)
                              .where(Department.organization_id == org_id)).all())
    memberships: dict[int, list[Membership]] = {}
    for employee_id, department_id in session.exec(
            select(EmployeeDepartment.employee_id, EmployeeDepartment.department_id)
            .join(Employee, Employee.id == EmployeeDepartment.employee_id)
            .where(Employee.organization_id == org_id)):
        memberships.setdefault(employee_id, []).append(
            Membership(department_id, names[department_id], positions.get(department_id)))
    columns = [getattr(Employee, name) for name in EMPLOYEE_FIELDS]
    out = []
    for row in session.exec(select(Employee.id, Employee.custom, *columns)
                            .where(Employee.organization_id == org_id).order_by(Employee.id)):
        fields = dict(zip(EMPLOYEE_FIELDS, row[2:], strict=True))
        fields["id"], fields["custom"] = row[0], row[1]
        out.append((fields, memberships.get(row[0], [])))
    return out


def bench(employees: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="sigsync-signature-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'signatures.db'}"
        org_id, insert_s = _setup(url, employees)
        engine = get_engine(url)
        with Session(engine) as session:
            started = time.perf_counter()
            rows = _rows(session, org_id)
            slots = load_slots(session, org_id)
            templates = {t.id: t for t in session.exec(select(SignatureTemplate)
                                                        .where(SignatureTemplate.organization_id == org_id))}
            read_s = time.perf_counter() - started
        engine.dispose()

    started = time.perf_counter()
    compiled = {tid: rendering.compile_template(t.html, t.text if t.text_is_custom else None)
                for tid, t in templates.items()}
    compile_s = time.perf_counter() - started

    assert not any(c.sanitize_output for c in compiled.values()), "the bench's templates need no output pass"

    def render_all(templates: dict) -> tuple[int, int, float, float]:
        rendered = chars = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        for fields, memberships in rows:
            photo_url = f"https://sigsync.example/photos/{fields['id']:x}.jpg" if fields["id"] % 3 else ""
            context = rendering.context_for(fields, custom=fields["custom"], departments=[m.name for m in memberships],
                                            photo_url=photo_url)
            for compose in ("new", "reply"):
                choice = resolve(compose, fields["id"], memberships, slots)
                out = rendering.render(templates[choice.template_id], context)
                rendered += 1
                chars += len(out.html)
        return rendered, chars, time.perf_counter() - started, time.process_time() - cpu_started

    rendered, chars, render_s, render_cpu_s = render_all(compiled)
    # As before: the sandboxed template of the same lines, nh3 over every signature.
    sanitized = {tid: dataclasses.replace(c, html=rendering.HTML_ENV.from_string(c.html_source), sanitize_output=True)
                 for tid, c in compiled.items()}
    _, _, _, sanitized_cpu_s = render_all(sanitized)

    bare = {tid: rendering.HTML_ENV.from_string(t.html) for tid, t in templates.items()}
    new_id, reply_id = (next(tid for tid, t in templates.items() if t.name == name) for name in ("Full", "Reply"))
    cpu_started = time.process_time()
    for fields, memberships in rows:
        context = rendering.context_for(fields, custom=fields["custom"], departments=[m.name for m in memberships])
        bare[new_id].render(context)
        bare[reply_id].render(context)
    jinja_cpu_s = time.process_time() - cpu_started

    full = next(t for t in templates.values() if t.name == "Full")
    parts = re.split(r"\{\{ *([a-z_]+) *\}\}", full.html)
    fmt = "".join(part.replace("{", "{{").replace("}", "}}") if n % 2 == 0 else f"{{{part}}}"
                  for n, part in enumerate(parts))
    cpu_started = time.process_time()
    for fields, memberships in rows:
        values = {name: html.escape(fields[name] or "") for name in EMPLOYEE_FIELDS}
        values["full_name"] = values["display_name"]
        values["photo_url"] = html.escape(f"https://sigsync.example/photos/{fields['id']:x}.jpg" if fields["id"] % 3
                                          else "")
        values["departments"] = html.escape(", ".join(m.name for m in memberships))
        fmt.format(**values)
    floor_cpu_s = time.process_time() - cpu_started
    return {"employees": len(rows), "signatures": rendered, "insert_s": insert_s, "read_s": read_s,
            "compile_ms": compile_s * 1000, "render_s": render_s, "render_cpu_s": render_cpu_s,
            "per_second": rendered / render_cpu_s, "wall_per_second": rendered / render_s,
            "sanitized_per_second": rendered / sanitized_cpu_s, "jinja_per_second": 2 * len(rows) / jinja_cpu_s,
            "floor_per_second": len(rows) / floor_cpu_s, "load": os.getloadavg()[0],
            "mean_html_chars": chars / rendered}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench signatures", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=100_000)
    args = parser.parse_args(argv)
    print(f"# signature benchmark with {args.employees:,} employees…", file=sys.stderr)
    r = bench(args.employees)
    verdict = "met" if r["per_second"] > TARGET_PER_SECOND else "MISSED"
    print("| what | figure |\n|---|---|",
          f"| employees (bulk inserted) | {r['employees']:,} in {r['insert_s']:.1f} s |",
          f"| read employees, departments, assignments | {r['read_s']:.1f} s |",
          f"| compile 2 templates | {r['compile_ms']:.1f} ms |",
          f"| signatures rendered (new + reply each) | {r['signatures']:,} in {r['render_cpu_s']:.1f} s of CPU "
          f"({r['render_s']:.1f} s wall, load average {r['load']:.1f}) |",
          f"| **signatures per second (one core's CPU time)** | **{r['per_second']:,.0f}** (target > "
          f"{TARGET_PER_SECOND:,}: {verdict}; {r['wall_per_second']:,.0f} by the wall clock) |",
          f"| the same with nh3 over every signature (as before) | {r['sanitized_per_second']:,.0f} per second (CPU) |",
          f"| floor: bare Jinja render of both templates' HTML, same rows | {r['jinja_per_second']:,.0f} per second "
          "(CPU) |",
          f"| floor: str.format + html.escape, same rows | {r['floor_per_second']:,.0f} per second (CPU) |",
          f"| mean rendered HTML | {r['mean_html_chars']:,.0f} characters |", sep="\n", flush=True)
    return 0 if verdict == "met" else 1


if __name__ == "__main__":
    sys.exit(main())
