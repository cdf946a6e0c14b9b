"""Names, offices and job titles the generated tenant draws from (a multinational company).

Every name is a (native, ascii) pair: the native form is what Entra shows in displayName, the
ascii form builds the mail address the way admins do it (Müller -> mueller, 王 -> wang).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Office:
    """A company site: the address and phone numbers its employees carry."""

    key: str
    city: str
    state: str | None
    country: str
    usage_location: str
    postal_code: str
    street: str
    phone: str  # template: every '#' becomes a digit (extensions, direct lines)
    mobile: str
    company: str
    language: str


@dataclass(frozen=True)
class Locale:
    """People of one language: given names, surnames and the offices they work in."""

    key: str
    given: tuple[tuple[str, str], ...]
    surnames: tuple[tuple[str, str], ...]
    offices: tuple[str, ...]
    family_first: bool = False  # displayName "王伟", not "伟 王"


OFFICES = {o.key: o for o in (
    Office("BER", "Berlin", "Berlin", "Germany", "DE", "10117", "Friedrichstraße 123",
           "+49 30 2345678-###", "+49 151 #### ####", "Contoso Deutschland GmbH", "de-DE"),
    Office("MUC", "München", "Bayern", "Germany", "DE", "80331", "Marienplatz 8",
           "+49 89 4567890-###", "+49 160 #### ####", "Contoso Deutschland GmbH", "de-DE"),
    Office("HAM", "Hamburg", "Hamburg", "Germany", "DE", "20095", "Mönckebergstraße 7",
           "+49 40 3456789-###", "+49 171 #### ####", "Contoso Deutschland GmbH", "de-DE"),
    Office("VIE", "Wien", "Wien", "Austria", "AT", "1010", "Kärntner Straße 21",
           "+43 1 5123456-###", "+43 664 ### ####", "Contoso Austria GmbH", "de-AT"),
    Office("ZRH", "Zürich", "ZH", "Switzerland", "CH", "8001", "Bahnhofstrasse 45",
           "+41 44 212 ## ##", "+41 79 ### ## ##", "Contoso Schweiz AG", "de-CH"),
    Office("SEA", "Seattle", "WA", "United States", "US", "98101", "1 Contoso Way",
           "+1 206 555 01##", "+1 425 555 01##", "Contoso, Inc.", "en-US"),
    Office("NYC", "New York", "NY", "United States", "US", "10001", "350 Fifth Avenue",
           "+1 212 555 01##", "+1 917 555 01##", "Contoso, Inc.", "en-US"),
    Office("LON", "London", None, "United Kingdom", "GB", "EC2V 7HH", "1 King Street",
           "+44 20 7946 0###", "+44 7700 900###", "Contoso Ltd.", "en-GB"),
    Office("PAR", "Paris", "Île-de-France", "France", "FR", "75008", "12 rue de la Paix",
           "+33 1 99 00 ## ##", "+33 6 39 98 ## ##", "Contoso France SAS", "fr-FR"),
    Office("MAD", "Madrid", "Madrid", "Spain", "ES", "28013", "Calle de Alcalá 48",
           "+34 91 123 ## ##", "+34 600 ### ###", "Contoso Ibérica S.L.", "es-ES"),
    Office("WAW", "Warszawa", "mazowieckie", "Poland", "PL", "00-001", "ul. Marszałkowska 104",
           "+48 22 123 ## ##", "+48 500 ### ###", "Contoso Polska Sp. z o.o.", "pl-PL"),
    Office("STO", "Stockholm", None, "Sweden", "SE", "111 52", "Drottninggatan 71",
           "+46 8 123 45 ##", "+46 70 ### ## ##", "Contoso Sverige AB", "sv-SE"),
    Office("RIX", "Rīga", None, "Latvia", "LV", "LV-1050", "Brīvības iela 40",
           "+371 67 12 ####", "+371 2# ### ###", "Contoso Baltics SIA", "lv-LV"),
    Office("IST", "İstanbul", None, "Türkiye", "TR", "34394", "Büyükdere Cd. 185",
           "+90 212 123 ## ##", "+90 532 ### ## ##", "Contoso Türkiye A.Ş.", "tr-TR"),
    Office("ATH", "Athens", None, "Greece", "GR", "105 57", "Ermou 56",
           "+30 21 0123 ####", "+30 69# ### ####", "Contoso Hellas S.A.", "el-GR"),
    Office("SHA", "Shanghai", "Shanghai", "China", "CN", "200120", "Century Avenue 100",
           "+86 21 6123 ####", "+86 139 #### ####", "Contoso (Shanghai) Co., Ltd.", "zh-CN"),
    Office("TYO", "Tokyo", "Tokyo", "Japan", "JP", "100-0005", "1-1 Marunouchi, Chiyoda-ku",
           "+81 3 6123 ####", "+81 90 #### ####", "Contoso Japan K.K.", "ja-JP"),
)}


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    # "Jürgen=juergen, Anna" -> (("Jürgen", "juergen"), ("Anna", "anna")); ascii defaults to lower-case.
    out = []
    for item in text.split(","):
        native, _, ascii_ = item.strip().partition("=")
        out.append((native, ascii_ or native.lower()))
    return tuple(out)


LOCALES = {loc.key: loc for loc in (
    Locale("de", _pairs(
        "Anna, Jürgen=juergen, Lukas, Sophie, Maximilian, Lena, Felix, Leonie, Paul, Marie, Jonas, Hannah, "
        "Uwe, Sabine, Björn=bjoern, Jörg=joerg, Käthe=kaethe, Günther=guenther, Heike, Tobias, Katrin, Ralf, "
        "Stefanie, Matthias, Ute, Dieter, Claudia, Sven, Nina, Florian, Miriam, Özlem=oezlem, Hans-Peter=hans-peter"),
        _pairs(
        "Müller=mueller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Schulz, Hoffmann, "
        "Schäfer=schaefer, Koch, Bauer, Richter, Klein, Wolf, Schröder=schroeder, Neumann, Schwarz, Zimmermann, "
        "Braun, Krüger=krueger, "
        "Hofmann, Hartmann, Lange, Schmitt, Werner, Krause, Meier, Lehmann, Groß=gross, Köhler=koehler, "
        "Weiß=weiss, von Bergen=vonbergen, Öztürk=oeztuerk"),
        ("BER", "BER", "MUC", "HAM", "VIE", "ZRH")),
    Locale("en-US", _pairs(
        "James, Mary, Robert, Patricia, John, Jennifer, Michael, Linda, David, Elizabeth, William, Barbara, "
        "Richard, Susan, Joseph, Jessica, Thomas, Sarah, Christopher, Karen, Daniel, Nancy, Matthew, Lisa, "
        "Anthony, Betty, Mark, Sandra, Donald, Ashley, Steven, Kimberly, Adele, Grady, Megan, Alex"),
        _pairs(
        "Smith, Johnson, Williams, Brown, Jones, Garcia, Miller, Davis, Rodriguez, Martinez, Hernandez, Lopez, "
        "Gonzalez, Wilson, Anderson, Taylor, Moore, Jackson, Martin, Lee, Thompson, White, Harris, Clark, Lewis, "
        "Robinson, Walker, Young, Allen, King, Wright, Scott, Vance, Archie, Bowen, Wilber"),
        ("SEA", "SEA", "NYC")),
    Locale("en-GB", _pairs(
        "Oliver, Amelia, Harry, Isla, George, Ava, Noah, Mia, Jack, Ivy, Charlie, Lily, Oscar, Freya, "
        "Arthur, Florence, Alfie, Evie, Sean, Siobhan, Niamh, Rhys, Eilidh, Callum"),
        _pairs(
        "Smith, Jones, Taylor, Brown, Williams, Wilson, Johnson, Davies, Robinson, Wright, Thompson, Evans, "
        "Walker, White, Roberts, Green, Hall, Wood, Jackson, Clarke, Patel, Khan, Murphy, Campbell"),
        ("LON",)),
    Locale("fr", _pairs(
        "Zoë=zoe, Chloé=chloe, Léa=lea, Manon, Camille, Inès=ines, Jade, Louise, Hugo, Lucas, Théo=theo, "
        "Mathéo=matheo, Raphaël=raphael, Gabriel, Arthur, Louis, Jules, Maël=mael, Noémie=noemie, "
        "François=francois, Hélène=helene, Jérôme=jerome, Céline=celine, Jean-Luc=jean-luc"),
        _pairs(
        "Martin, Bernard, Dubois, Thomas, Robert, Richard, Petit, Durand, Leroy, Moreau, Simon, Laurent, "
        "Lefèvre=lefevre, Michel, Garnier, Faure, Rousseau, Blanc, Guérin=guerin, Müller=muller, Hénin=henin, "
        "Chevalier, François=francois, Mercier"),
        ("PAR",)),
    Locale("es", _pairs(
        "José=jose, María=maria, Antonio, Carmen, Manuel, Josefa, Francisco, Ana, Pablo, Isabel, Juan, Lucía=lucia, "
        "Javier, Laura, Sergio, Marta, Álvaro=alvaro, Sofía=sofia, Iñigo=inigo, Nuria, Raúl=raul, Elena"),
        _pairs(
        "García=garcia, Rodríguez=rodriguez, González=gonzalez, Fernández=fernandez, López=lopez, "
        "Martínez=martinez, Sánchez=sanchez, Pérez=perez, Gómez=gomez, Martín=martin, Jiménez=jimenez, "
        "Ruiz, Hernández=hernandez, Díaz=diaz, Moreno, Muñoz=munoz, Álvarez=alvarez, Romero, Núñez=nunez, "
        "Castaño=castano"),
        ("MAD",)),
    Locale("pl", _pairs(
        "Łukasz=lukasz, Małgorzata=malgorzata, Paweł=pawel, Agnieszka, Michał=michal, Katarzyna, Piotr, "
        "Magdalena, Krzysztof, Joanna, Tomasz, Żaneta=zaneta, Wojciech, Grażyna=grazyna, Jakub, Zofia"),
        _pairs(
        "Nowak, Kowalski, Wiśniewski=wisniewski, Wójcik=wojcik, Kowalczyk, Kamiński=kaminski, "
        "Lewandowski, Zieliński=zielinski, Szymański=szymanski, Woźniak=wozniak, Dąbrowski=dabrowski, "
        "Kozłowski=kozlowski, Jankowski, Mazur, Krawczyk, Sójka=sojka"),
        ("WAW",)),
    Locale("sv", _pairs(
        "Åsa=asa, Björn=bjorn, Sofia, Erik, Maja, Lars, Ingrid, Anders, Karin, Johan, Märta=marta, Nils, "
        "Linnéa=linnea, Oskar, Ebba, Gustav"),
        _pairs(
        "Andersson, Johansson, Karlsson, Nilsson, Eriksson, Larsson, Olsson, Persson, Svensson, Gustafsson, "
        "Lindström=lindstrom, Åkesson=akesson, Ström=strom, Lindqvist, Berg, Sjöberg=sjoberg"),
        ("STO",)),
    Locale("zh", _pairs(
        "伟=wei, 芳=fang, 娜=na, 敏=min, 静=jing, 磊=lei, 洋=yang, 艳=yan, 勇=yong, 军=jun, 杰=jie, 娟=juan, "
        "涛=tao, 明=ming, 超=chao, 秀英=xiuying"),
        _pairs(
        "王=wang, 李=li, 张=zhang, 刘=liu, 陈=chen, 杨=yang, 黄=huang, 赵=zhao, 吴=wu, 周=zhou, 徐=xu, "
        "孙=sun, 马=ma, 朱=zhu, 胡=hu, 郭=guo"),
        ("SHA",), family_first=True),
    Locale("ru", _pairs(
        "Дмитрий=dmitry, Анна=anna, Сергей=sergey, Ольга=olga, Алексей=alexey, Наталья=natalya, "
        "Иван=ivan, Екатерина=ekaterina, Михаил=mikhail, Татьяна=tatyana, Андрей=andrey, Юлия=yulia"),
        _pairs(
        "Иванов=ivanov, Смирнов=smirnov, Кузнецов=kuznetsov, Попов=popov, Васильев=vasiliev, "
        "Петров=petrov, Соколов=sokolov, Михайлов=mikhailov, Новиков=novikov, Фёдоров=fedorov, "
        "Морозов=morozov, Волков=volkov"),
        ("RIX", "BER")),
    Locale("tr", _pairs(
        "İbrahim=ibrahim, Çağla=cagla, Ayşe=ayse, Mehmet, Emre, Elif, Burak, Şule=sule, Gökhan=gokhan, "
        "Zeynep, Ömer=omer, Ilgın=ilgin"),
        _pairs(
        "Yılmaz=yilmaz, Kaya, Demir, Şahin=sahin, Çelik=celik, Yıldız=yildiz, Yıldırım=yildirim, "
        "Öztürk=ozturk, Aydın=aydin, Özdemir=ozdemir, Arslan, Doğan=dogan"),
        ("IST",)),
    Locale("el", _pairs(
        "Νίκος=nikos, Μαρία=maria, Γιώργος=giorgos, Ελένη=eleni, Κώστας=kostas, Σοφία=sofia, "
        "Δημήτρης=dimitris, Αικατερίνη=aikaterini"),
        _pairs(
        "Παπαδόπουλος=papadopoulos, Βλάχος=vlachos, Αγγελόπουλος=angelopoulos, Νικολάου=nikolaou, "
        "Γεωργίου=georgiou, Οικονόμου=oikonomou, Μακρής=makris, Καραγιάννης=karagiannis"),
        ("ATH",)),
    Locale("ja", _pairs(
        "花子=hanako, 太郎=taro, 陽菜=hina, 翔=sho, 結衣=yui, 蓮=ren, 美咲=misaki, 大輝=daiki"),
        _pairs(
        "佐藤=sato, 鈴木=suzuki, 高橋=takahashi, 田中=tanaka, 伊藤=ito, 渡辺=watanabe, 山本=yamamoto, 中村=nakamura"),
        ("TYO",), family_first=True),
)}

# How the 97 employee slots of every block of 100 users split across languages.
EMPLOYEE_LOCALE_WEIGHTS = (
    ("de", 30), ("en-US", 20), ("en-GB", 10), ("fr", 8), ("es", 7), ("pl", 5),
    ("sv", 4), ("zh", 4), ("ru", 3), ("tr", 3), ("ja", 2), ("el", 1),
)

DEPARTMENTS = {
    "Sales": ("Account Executive", "Key Account Manager", "Inside Sales Representative", "Sales Engineer"),
    "Marketing": ("Marketing Specialist", "Content Strategist", "Brand Manager", "Event Coordinator"),
    "Engineering": ("Software Engineer", "Senior Software Engineer", "QA Engineer", "DevOps Engineer",
                    "Site Reliability Engineer"),
    "Finance": ("Accountant", "Financial Analyst", "Controller", "Accounts Payable Clerk"),
    "Human Resources": ("HR Business Partner", "Recruiter", "Payroll Specialist"),
    "Legal": ("Legal Counsel", "Paralegal", "Compliance Officer"),
    "Customer Success": ("Customer Success Manager", "Support Engineer", "Technical Account Manager"),
    "IT": ("System Administrator", "IT Support Specialist", "Security Analyst"),
    "Operations": ("Operations Manager", "Office Manager", "Facilities Coordinator"),
    "Research & Development": ("Research Scientist", "Product Manager", "UX Designer"),
}
DEPARTMENT_NAMES = tuple(DEPARTMENTS)

GUEST_DOMAINS = ("fabrikam.example", "adatum.example", "northwind.example", "gmail.com", "outlook.com",
                 "tailspintoys.example")
SERVICE_PURPOSES = ("scanner", "backup", "crm-sync", "printer", "room-display", "monitoring")

# Microsoft 365 product SKUs (skuId GUIDs as Microsoft publishes them).
SKU_E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # Microsoft 365 E3
SKU_E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"  # Microsoft 365 E5
SKU_BUSINESS_PREMIUM = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"  # Microsoft 365 Business Premium
