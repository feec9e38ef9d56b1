"""Street addresses written the way many countries write them.

Three shapes cover most of Europe and the Americas:

- the street type first, then the name and the house number: "Calle Mayor 5, 3º B", "Rua das
  Flores 233", "Via Garibaldi 15 int. 4", "ul. Marszałkowska 10/12", "Avda. Valdecilla, s/n";
- the number first, then the type: "12 rue de la Paix", "233 Main Street" (English: ``pii``);
- the type as the end of the name or after it, then the number: "Mannerheimintie 12 B 7",
  "Storgatan 5", "Kerkstraat 12", "Nørregade 10", "Andrássy út 10", "Pärnu mnt 31".

Flat, floor, staircase and suite parts after the number are part of the address. So is a
postcode with its town when it follows on the same line ("..., 00100 Helsinki"). A labelled
field ("Address:", "Domicilio:", "Anschrift:") marks the rest of its line.
"""

from __future__ import annotations

from veil.detectors.base import PatternSpec
from veil.schemas import Category

PII = Category.PII

_UP = r"[A-ZÀ-ÖØ-ÞĀ-ſ]"  # an upper-case Latin letter, accented ones included
_LOW = r"[a-zß-öø-ÿā-ſ]"
_WORD = (rf"[IVXL]{{2,5}}\b|{_UP}{_LOW}*\.?|[Dd]e|[Dd]el|[Dd]ella|[Dd]ei|[Dd]i|[Dd]a|[Dd]as|[Dd]o|[Dd]os|[Ll]a|[Ll]as"
         r"|[Ll]os|[Ll]e|[Ll]es|[Dd]u|[Dd]es|[Vv]an|[Vv]on|[Dd]er|[Ee]l|[Yy]|[Ii]|[Ss]an|[Ss]anta|[Ss]ant'|[Ll]'")
_PARTICLE = (r"[Dd]e|[Dd]el|[Dd]ella|[Dd]ei|[Dd]i|[Dd]a|[Dd]as|[Dd]o|[Dd]os|[Ll]a|[Ll]as|[Ll]os|[Ll]e|[Ll]es|[Dd]u|[Dd]es"
             r"|[Vv]an|[Vv]on|[Dd]er|[Ee]l|[Ss]an|[Ss]anta|[Ss]ant'|[Ll]'")
_NAME = rf"(?:(?:{_PARTICLE})\s)*{_UP}{_LOW}*\.?(?:[ '’-](?:{_WORD})){{0,6}}"  # a capitalised word among its words
#: Street types written before the name.
_BEFORE = (r"calle|c/\.?|c\.|avenida|avda\.?|av\.|avd\.|paseo|p[º°]|p/|plaza|pza\.?|pl\.|plaça|carretera|ctra\.?|camino"
           r"|pz\.|pso\.?|ronda|traves[ií]a|glorieta|urbanizaci[oó]n|urb\.|carrer|avinguda|passeig|rua|rúa|praça|travessa"
           r"|largo|alameda|estrada|via|v\.le|viale|piazza|p\.zza|corso|vicolo|strada|rue|boulevard|bd\.?|bld"
           r"|chemin|all[ée]e|impasse|place|quai|route|cours|ulica|ul\.|aleja|al\.|plac|osiedle|os\.|ulice|n[áa]měst[ií]"
           r"|t[řr][ií]da|calea|strada|str\.|bulevardul|bd-ul|şoseaua|soseaua|splaiul|odos|οδός|leoforos")
#: Street types written as the end of the name ("Storgatan") or as a word after it ("Andrássy út").
_SUFFIX = (r"stra(?:ß|ss)e|str\.|weg|gasse|platz|allee|ring|damm|ufer|gade|vej|all[ée]|gatan|v[äa]gen|gata|gränd"
           r"|straat|laan|plein|gracht|kade|singel|dreef|tie|katu|kuja|polku|v[äa]yl[äa]|tee|gatve|iela")
_AFTER = r"utca|út|körút|krt\.|tér|köz|mnt|maantee|puiestee|gatvė|prospekt|pr\."
_NUMBER = (r"(?:(?:[Nn][º°o]\.?|[Nn]úm\.?|[Nn]úmero|[Nn]r\.?|#)\s?)?"
           r"(?:\d{1,5}(?:\s?[A-Za-z](?![A-Za-z]|-\d{4}))?(?:[/-]\d{1,5}(?!\d)[A-Za-z]?)?|s/n|S/N|[Kk]m\.?\s?\d{1,4}(?:[.,]\d{1,3})?)")
#: Flat, floor, door, staircase, suite parts after the number ("3º B", "int. 4", "Suite 12", "B 7").
_UNIT = (r"(?:\s?[,-]?\s?(?:\d{1,3}\s?(?:º|ª|°|o|a)?\.?\s?[A-Za-z]?(?![\w])|[A-Z](?![\w-])|(?:bajo|piso|planta|puerta|pta\.?"
         r"|esc\.?|escalera|portal|port\.?|bl\.?|bloque|ed\.|edificio|izq\.?|izda\.?|dcha\.?|drcha\.?|int\.?|interno|scala|apt\.?|apartment|flat|suite|unit|"
         r"ap\.|app\.|étage|bte|bus|lgh|m\.|door|whg\.?|top|stiege)\s?\d{0,4}[A-Za-z]?(?![\w])))")
_POSTCODE = rf"(?:,?\s?(?:[A-Z]{{1,2}}-?)?(?:\d{{4}} ?[A-Z]{{2}}(?!\w)|\d{{4,5}}|\d{{3}} \d{{2}})(?:-\d{{3,4}})?\s+{_UP}{_LOW}+(?:[ -]{_UP}{_LOW}+)?)"
#: A street name without its type, up to five words, none of them an institution's ("Hospital ...").
_INSTITUTION = (r"(?:Hospital|Cl[ií]nica|Cl[ií]nic|Instituto|Institut|Universi\w*|Centro|Center|Centre|Servicio|Departamento"
                r"|Complejo|Facultad|Unidad|Fundaci[oó]n|Colegio|Escuela|Ciudad|Edificio|Torre|Table|Tabla|Figure|Fig"
                r"|Figura|Page|P[aá]gina|Section|Secci[oó]n|Chapter|Cap[ií]tulo|Art[ií]culo|Article|Room|Sala|Box|In|On"
                r"|At|The|See|En|El|La|Los|Las|Tel|Fax|Email|E-mail)\b")
_NOT_INSTITUTION = rf"(?!{_INSTITUTION})"
_SHORT_WORD = rf"[IVXL]{{2,5}}\b|{_UP}{_LOW}+|{_PARTICLE}|[Ii]|[Yy]"  # no full stop: "Navarra. Irunlarrea, 4"
_SHORT_NAME = rf"{_UP}{_LOW}+(?:[ '’-]{_NOT_INSTITUTION}(?:{_SHORT_WORD})){{0,4}}"
_FIELD = (r"address|home address|street address|domicilio|direcci[oó]n|adresse|anschrift|wohnadresse|indirizzo|morada"
          r"|endere[cç]o|adres|adress|osoite|lakc[ií]m|adresa|adresas|aadress")

SPECS = (
    PatternSpec(
        "POSTAL_ADDRESS", PII,
        rf"(?P<v>(?i:\b(?:{_BEFORE}))\s{{0,2}}(?:{_NAME}|\d{{1,3}}(?:\s?[A-Z](?!\w))?)(?:,\s?|\s{{1,2}}){_NUMBER}(?:{_UNIT}){{0,3}}{_POSTCODE}?)",
        0.85, "street type, name and house number",
        triggers=("calle", "c/", "c.", "avenida", "avda", "av.", "avd.", "paseo", "pº", "p°", "p/", "plaza", "pza",
                  "pl.", "plaça", "carretera", "ctra", "camino", "ronda", "travesía", "travesia", "glorieta", "urb",
                  "carrer", "avinguda", "passeig", "rua", "rúa", "praça", "travessa", "largo", "alameda",
                  "estrada", "via", "v.le", "viale", "piazza", "p.zza", "corso", "vicolo", "strada", "rue", "boulevard",
                  "bd", "bld", "chemin", "allée", "allee", "impasse", "place", "quai", "route", "cours", "ulica", "ul.",
                  "aleja", "al.", "plac", "osiedle", "os.", "ulice", "náměstí", "namesti", "třída", "trida", "calea",
                  "str.", "bulevardul", "bd-ul", "şoseaua", "soseaua", "splaiul", "odos", "οδός", "leoforos")),
    PatternSpec(
        "POSTAL_ADDRESS", PII,
        rf"(?P<v>\b{_UP}{_LOW}*(?:-{_UP}?{_LOW}+)*(?:{_SUFFIX})\s{_NUMBER}(?:{_UNIT}){{0,3}}{_POSTCODE}?)",
        0.85, "street name ending in a street type, and a house number",
        triggers=("straße", "strasse", "str.", "weg ", "gasse", "platz", "allee", "ring ", "damm", "ufer", "gade", "vej",
                  "allé", "gatan", "vägen", "vagen", "gata", "gränd", "straat", "laan", "plein", "gracht", "kade",
                  "singel", "dreef", "tie ", "katu", "kuja", "polku", "väylä", "tee ", "gatve", "iela")),
    PatternSpec(
        "POSTAL_ADDRESS", PII,
        rf"(?P<v>\b(?:{_UP}{_LOW}+\s){{1,3}}(?:{_AFTER})\s{_NUMBER}(?:{_UNIT}){{0,3}}{_POSTCODE}?)",
        0.85, "street name, a street type after it, and a house number",
        triggers=("utca", "út", "körút", "krt.", "tér", "köz", "mnt", "maantee", "puiestee", "gatvė", "prospekt",
                  "pr.")),
    PatternSpec(
        "POSTAL_ADDRESS", PII,
        rf"(?P<v>\b\d{{1,4}}(?:\s?(?:bis|ter))?,?\s(?i:rue|avenue|av\.|boulevard|bd|place|chemin|all[ée]e|impasse|quai"
        rf"|route|cours|via|viale|piazza|corso|largo)\s{_NAME}{_POSTCODE}?)",
        0.85, "house number, street type and name (French, Italian)",
        triggers=("rue", "avenue", "av.", "boulevard", "bd", "place", "chemin", "allée", "allee", "impasse", "quai",
                  "route", "cours", "via", "viale", "piazza", "corso", "largo")),
    PatternSpec(
        "POSTAL_ADDRESS", PII,
        rf"(?P<v>(?<![\w-]){_NOT_INSTITUTION}{_SHORT_NAME}(?:,\s?{_NUMBER}|\s(?:s/n|S/N))(?:{_UNIT}){{0,3}})"
        rf"(?=[.,]?\s{{0,2}}[-–]?\s{{0,2}}\(?(?:[A-Z]{{1,2}}-)?(?:\d{{5}}|\d{{4}}(?: ?[A-Z]{{2}}(?![\w]))?|\d{{3}} \d{{2}})\)?[.,]?\s?{_UP}{_LOW})",
        0.8, "a street name and house number, then a postcode and town", flags=0,
gate="postcode"),
    PatternSpec(
        "POSTAL_ADDRESS", PII,
        rf"(?i:\b(?:{_FIELD}))\s?:[ \t]*(?!0x)(?P<v>(?=[^\n:]*[^\W\d_]{{3}})[^\n:]{{3,120}}?\d[^\n:]{{0,80}}?)(?=\s*(?:\.\s|\.?\n|\.?\Z|;|\||\t))",
        0.85, "the value of an address field", flags=0,
        triggers=("address", "domicilio", "dirección", "direccion", "adresse", "anschrift", "wohnadresse", "indirizzo",
                  "morada", "endereço", "endereco", "adres", "adress", "osoite", "lakcím", "lakcim", "adresa", "aadress")),
)

__all__ = ["SPECS"]
