"""Employees: the services the CLI, the portal and the sync share to read and change them."""

from portal.employees.departments import assign_department, unassign_department
from portal.employees.fields import CUSTOM_PREFIX, EMPLOYEE_FIELDS, clean_fields, normalize_email
from portal.employees.formats import EXPORT_FORMATS, csv_chunks, json_chunks
from portal.employees.listing import custom_field_keys, export_rows, list_employees
from portal.employees.records import add_employee, edit_employee, find_employee, get_employee
from portal.employees.seats import BILLABLE_STATUSES, count_billable, ensure_seat_available
from portal.employees.status import STATUSES, SYNC_ACTIONS, set_sync_status

__all__ = [
    "BILLABLE_STATUSES",
    "CUSTOM_PREFIX",
    "EMPLOYEE_FIELDS",
    "EXPORT_FORMATS",
    "STATUSES",
    "SYNC_ACTIONS",
    "add_employee",
    "assign_department",
    "clean_fields",
    "count_billable",
    "csv_chunks",
    "custom_field_keys",
    "edit_employee",
    "ensure_seat_available",
    "export_rows",
    "find_employee",
    "get_employee",
    "json_chunks",
    "list_employees",
    "normalize_email",
    "set_sync_status",
    "unassign_department",
]
