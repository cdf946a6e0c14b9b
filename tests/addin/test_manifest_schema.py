"""The manifest against the published schema's rules: element order, required elements and value limits of
[MS-OWEMXML] (Office Web Extensibility Manifest XML schema): OfficeApp/MailApp (appforoffice/1.1),
VersionOverridesV1_1, the LaunchEvent extension point and the basic types (officeappbasictypes/1.0).

Microsoft's .xsd files themselves are not available offline here (see README, "Delivery into Outlook"), so the
sequences below are transcribed from the schema fragments [MS-OWEMXML] publishes for these types.
"""

from __future__ import annotations

import re

from lxml import etree

APP = "http://schemas.microsoft.com/office/appforoffice/1.1"
V10 = "http://schemas.microsoft.com/office/mailappversionoverrides"
V11 = "http://schemas.microsoft.com/office/mailappversionoverrides/1.1"
BT = "http://schemas.microsoft.com/office/officeappbasictypes/1.0"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
UNBOUNDED = 10**6
# (child, minOccurs, maxOccurs) in schema order.
OFFICE_APP_THEN_MAIL_APP = [  # OfficeApp's sequence, then MailApp's extension of it
    ("Id", 1, 1), ("AlternateId", 0, 1), ("Version", 1, 1), ("ProviderName", 1, 1), ("DefaultLocale", 1, 1),
    ("DisplayName", 1, 1), ("Description", 1, 1), ("IconUrl", 0, 1), ("HighResolutionIconUrl", 0, 1),
    ("SupportUrl", 0, 1), ("AppDomains", 0, 1), ("Hosts", 0, 1),
    ("Requirements", 1, 1), ("FormSettings", 1, 1), ("Permissions", 0, 1), ("Rule", 1, 1),
    ("DisableEntityHighlighting", 0, 1), (f"{{{V10}}}VersionOverrides", 0, 1),
]
VERSION_OVERRIDES_1_0 = [("Description", 0, 1), ("Requirements", 0, 1), ("Hosts", 0, 1), ("Resources", 0, 1),
                         (f"{{{V11}}}VersionOverrides", 0, 1)]
VERSION_OVERRIDES_1_1 = [("Description", 0, 1), ("Requirements", 0, 1), ("Hosts", 0, 1), ("Resources", 0, 1),
                         ("WebApplicationInfo", 0, 1), ("EquivalentAddins", 0, 1)]
MAIL_HOST_1_1 = [("Runtimes", 0, 1), ("DesktopFormFactor", 0, 1), ("MobileFormFactor", 0, 1)]
MOBILE_FORM_FACTOR = [("FunctionFile", 0, 1), ("ExtensionPoint", 1, UNBOUNDED)]
LAUNCH_EVENT = [("LaunchEvents", 1, 1), ("SourceLocation", 1, 1)]
RESOURCES = [(f"{{{BT}}}Images", 0, 1), (f"{{{BT}}}Urls", 0, 1), (f"{{{BT}}}ShortStrings", 0, 1),
             (f"{{{BT}}}LongStrings", 0, 1)]
PERMISSIONS = {"Restricted", "ReadItem", "ReadWriteItem", "ReadWriteMailbox"}
UUID = re.compile(r"(urn:uuid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _name(element, default_ns: str) -> str:
    qname = etree.QName(element)
    return qname.localname if qname.namespace == default_ns else element.tag


def _follows(element, sequence, default_ns: str) -> None:
    """The children of ``element`` follow ``sequence`` (order, minOccurs, maxOccurs), as xs:sequence requires."""
    names = [_name(child, default_ns) for child in element if isinstance(child.tag, str)]
    position = 0
    for name, low, high in sequence:
        count = 0
        while position < len(names) and names[position] == name:
            count, position = count + 1, position + 1
        assert low <= count <= high, (element.tag, name, count)
    assert position == len(names), (element.tag, "unexpected or out of order", names[position:])


def test_the_manifest_follows_the_published_sequences(client):
    root = etree.fromstring(client.get("/addin/manifest.xml").get_data())
    assert root.tag == f"{{{APP}}}OfficeApp" and root.get(XSI_TYPE) == "MailApp"
    _follows(root, OFFICE_APP_THEN_MAIL_APP, APP)
    outer = root.find(f"{{{V10}}}VersionOverrides")
    assert outer.get(XSI_TYPE) == "VersionOverridesV1_0"
    _follows(outer, VERSION_OVERRIDES_1_0, V10)
    inner = outer.find(f"{{{V11}}}VersionOverrides")
    assert inner.get(XSI_TYPE) == "VersionOverridesV1_1"
    _follows(inner, VERSION_OVERRIDES_1_1, V11)
    host = inner.find(f"{{{V11}}}Hosts/{{{V11}}}Host")
    assert host.get(XSI_TYPE) == "MailHost"
    _follows(host, MAIL_HOST_1_1, V11)
    _follows(host.find(f"{{{V11}}}MobileFormFactor"), MOBILE_FORM_FACTOR, V11)
    launch_points = [p for p in host.iter(f"{{{V11}}}ExtensionPoint") if p.get(XSI_TYPE) == "LaunchEvent"]
    assert len(launch_points) == 2  # desktop and mobile
    for point in launch_points:
        _follows(point, LAUNCH_EVENT, V11)
        for event in point.iter(f"{{{V11}}}LaunchEvent"):
            assert 1 <= len(event.get("Type")) <= 125 and 1 <= len(event.get("FunctionName")) <= 250
    _follows(inner.find(f"{{{V11}}}Resources"), RESOURCES, V11)


def test_the_manifest_values_keep_the_basic_types_limits(client):
    root = etree.fromstring(client.get("/addin/manifest.xml").get_data())
    assert UUID.fullmatch(root.findtext(f"{{{APP}}}Id"))
    assert re.fullmatch(r"\d{1,5}(\.\d{1,5}){0,3}", root.findtext(f"{{{APP}}}Version"))
    assert root.findtext(f"{{{APP}}}Permissions") in PERMISSIONS
    assert 1 <= len(root.find(f"{{{APP}}}DisplayName").get("DefaultValue")) <= 125
    assert 1 <= len(root.find(f"{{{APP}}}Description").get("DefaultValue")) <= 250
    for short in root.iter(f"{{{BT}}}ShortStrings"):
        assert all(1 <= len(s.get("DefaultValue")) <= 125 for s in short)
    for long in root.iter(f"{{{BT}}}LongStrings"):
        assert all(1 <= len(s.get("DefaultValue")) <= 250 for s in long)
    ids = [e.get("id") for e in root.iter() if etree.QName(e).namespace == BT and e.get("id")]
    assert all(1 <= len(i) <= 32 for i in ids) and len(ids) == len(set(ids))
    referenced = {e.get("resid") for e in root.iter() if e.get("resid")}
    assert referenced <= set(ids), referenced - set(ids)
    urls = [e.get("DefaultValue") for e in root.iter() if (e.get("DefaultValue") or "").startswith("https://")]
    assert urls and all(len(u) <= 2048 for u in urls)
