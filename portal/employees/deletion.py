"""Deleting employees together with what refers to them.

Every path that deletes employees (the sync's removals, disconnecting with "delete employees") goes
through here, so a table that refers to employees is added in one place, not found by a foreign-key
error in a customer's sync.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Select, delete
from sqlalchemy.engine import Connection as DBConnection

from portal.models import Employee, EmployeeDepartment, SignatureAssignment
from portal.photos.store import EmployeePhoto


def delete_employees(conn: DBConnection, employee_ids: Collection[int] | Select) -> int:
    """Delete these employees, their department links, signature overrides and uploaded photos; how many went."""
    conn.execute(delete(EmployeeDepartment).where(EmployeeDepartment.employee_id.in_(employee_ids)))
    conn.execute(delete(SignatureAssignment).where(SignatureAssignment.employee_id.in_(employee_ids)))
    conn.execute(delete(EmployeePhoto).where(EmployeePhoto.employee_id.in_(employee_ids)))
    return conn.execute(delete(Employee).where(Employee.id.in_(employee_ids))).rowcount
