"""The hand-made users at the start of every tenant: the edge cases a real directory always has.

They come first so that even a 30-user tenant has umlauts, guests, duplicates and service accounts.
A mail ending in "@" gets the tenant domain ("@^": the domain in capitals).
`reports_to` is "ceo" (the first generated employee) or the index of another special user.
"""

from __future__ import annotations

from simulator.tenant_names import SKU_BUSINESS_PREMIUM, SKU_E3, SKU_E5

SPECIALS: tuple[dict, ...] = (
    # 0: the tenant admin: no mail (UPN only), like Microsoft's "MOD Administrator" sample.
    dict(given="MOD", surname="Administrator", display="MOD Administrator", upn="admin", mail=None,
         office=None, sku=SKU_E5, phone=True, mobile=True, preferred_language="en-US"),
    dict(given="Jürgen", surname="Müller", upn="Juergen.Mueller", office="BER", department="Sales",
         job="Leiter Vertrieb", photo=True, mobile=True, ext={1: "CC-1000", 10: "Contoso Deutschland GmbH"},
         reports_to="ceo"),
    dict(given="Zoë", surname=None, display="Zoë", upn="zoe", office="PAR", department="Marketing",
         job="Responsable marketing", photo=True, reports_to="ceo"),
    dict(given="José", surname="García", upn="Jose.Garcia", office="MAD", department="Sales;Marketing",
         job="Director de Ventas y Marketing", photo=True, mobile=True, reports_to="ceo"),
    dict(given="Łukasz", surname="Nowak", upn="Lukasz.Nowak", office="WAW", department="Engineering",
         job="Engineering Manager", mobile=True, reports_to="ceo"),
    dict(given="伟", surname="王", display="王伟", upn="wei.wang", office="SHA", department="Engineering",
         job="高级软件工程师", photo=True, reports_to=4),
    dict(given="Дмитрий", surname="Иванов", upn="Dmitry.Ivanov", office="RIX", department="Finance",
         job="Financial Analyst", reports_to="ceo"),
    # A room mailbox: no names, no licence, no phones (Microsoft's "Conf Room Adams" sample).
    dict(given=None, surname=None, display="Conf Room Adams", upn="Adams", mail="Adams@", office=None,
         sku=None, phone=False, preferred_language=None, employee_id=False),
    dict(given="Anna", surname="Schmidt", upn="Anna.Schmidt", office="BER", department="Human Resources",
         job="HR Business Partner", photo=True, reports_to="ceo"),
    # The same mail address as index 8, in another case: an old, disabled account.
    dict(given="Anna", surname="Schmidt", upn="a.schmidt", mail="anna.schmidt@", office="BER",
         department="Human Resources", job="HR Business Partner", enabled=False, sku=None),
    dict(guest="fabrikam.example", given="Adele", surname="Vance", local="adele.vance", company="Fabrikam"),
    dict(guest="gmail.com", given="Grady", surname="Archie", local="grady.archie"),
    dict(given="Max", surname="Mustermann", upn="Max.Mustermann", office="BER", department="Sales",
         job="Account Executive", enabled=False, reports_to=1),
    dict(given="Ole", surname="Nordmann", upn="Ole.Nordmann", office="STO", department="Operations",
         job="Facilities Coordinator", sku=None, reports_to="ceo"),
    # Service accounts: no department, no names, no licence.
    dict(given=None, surname=None, display="svc-backup", upn="svc-backup", mail=None, office=None, sku=None,
         phone=False, preferred_language=None, employee_id=False, employee_type=None),
    dict(given=None, surname=None, display="No Reply", upn="noreply", mail="noreply@", office=None, sku=None,
         phone=False, preferred_language=None, employee_id=False, employee_type=None),
    dict(given="Seán", surname="O'Brien", upn="Sean.OBrien", mail="Sean.O'Brien@", office="LON",
         department="Legal", job="Legal Counsel", mobile=True, reports_to="ceo"),
    dict(given="İbrahim", surname="Yıldız", upn="ibrahim.yildiz", office="IST", department="IT",
         job="Sistem Yöneticisi", photo=True, reports_to="ceo"),
    dict(given="Νίκος", surname="Παπαδόπουλος", upn="Nikos.Papadopoulos", office="ATH",
         department="Customer Success", job="Customer Success Manager", reports_to="ceo"),
    dict(given="花子", surname="佐藤", display="佐藤 花子", upn="hanako.sato", office="TYO", department="Marketing",
         job="マーケティング担当", photo=True, reports_to=2),
    dict(given="François", surname="Lefèvre", upn="Francois.Lefevre", office="PAR", department="Finance",
         job="Contrôleur de gestion", fax=True, mobile=True, sku=SKU_E3, reports_to="ceo"),
    dict(given="Katharina", surname="von Hohenzollern-Sigmaringen",
         display="Dr. Katharina von Hohenzollern-Sigmaringen (Global Strategic Partnerships)",
         upn="Katharina.vonHohenzollern", office="MUC", department="Sales",
         job="Senior Vice President Global Strategic Partnerships & Business Development", photo=True,
         mobile=True, fax=True, reports_to="ceo"),
    dict(given="Björn", surname="Åkesson", upn="Bjorn.Akesson", office="STO", department="Marketing",
         job="Brand Manager", photo=True, ext={n: f"value {n}" for n in range(1, 16)}, reports_to=2),
    dict(given="Leonie", surname="Wagner", upn="leonie.wagner", office="HAM", department="Human Resources",
         job="Werkstudentin HR", phone=False, mobile=False, employee_type="Intern", reports_to=8),
    dict(given="Chloé", surname="Dubois", upn="chloe.dubois", mail="Chloe.Dubois@^",
         office="PAR", department="Customer Success", job="Support Engineer", sku=SKU_BUSINESS_PREMIUM,
         reports_to=18),
    dict(given="Paul", surname="Fischer", upn="Paul.Fischer", office="BER", department=None,
         job="External Consultant", company="Fabrikam Consulting", employee_type="Contractor", sku=SKU_E3,
         reports_to=1),
)
