"""Street addresses in the formats of many countries, and look-alikes that are not addresses."""

import pytest

from veil.detectors import default_detectors, scan

DETECTORS = default_detectors()


def addresses(text: str) -> list[str]:
    return [text[f.start:f.end] for f in scan(text, DETECTORS) if f.entity == "POSTAL_ADDRESS"]


@pytest.mark.parametrize("text, address", [
    ("Domicilio: Calle Francos Rodriguez 94, 3A.\nLocalidad: Madrid", "Calle Francos Rodriguez 94, 3A"),
    ("Hospital Valdecilla Avda. Valdecilla, s/n 39008 Santander", "Avda. Valdecilla, s/n 39008 Santander"),
    ("vive en Calle Mayor 5, 3º B desde 2019", "Calle Mayor 5, 3º B"),
    ("Getafe Ctra. de Toledo, Km 12,5 28905 Getafe", "Ctra. de Toledo, Km 12,5 28905 Getafe"),
    ("moro na Rua das Flores 233, Porto", "Rua das Flores 233"),
    ("abito in Via Garibaldi 15 int. 4 a Torino", "Via Garibaldi 15 int. 4"),
    ("bureau : 12 rue de la Paix, 75002 Paris", "12 rue de la Paix, 75002 Paris"),
    ("Asun: Mannerheimintie 12 B 7, 00100 Helsinki", "Mannerheimintie 12 B 7, 00100 Helsinki"),
    ("Wir wohnen in der Gartenstraße 54, 10115 Berlin", "Gartenstraße 54, 10115 Berlin"),
    ("bor: Storgatan 5", "Storgatan 5"),
    ("woont op Kerkstraat 12", "Kerkstraat 12"),
    ("bor på Nørregade 10", "Nørregade 10"),
    ("lakik: Andrássy út 10", "Andrássy út 10"),
    ("kontor: Pärnu mnt 31", "Pärnu mnt 31"),
    ("mieszka ul. Marszałkowska 10/12", "ul. Marszałkowska 10/12"),
    ("Address: 4 Privet Drive, Little Whinging", "4 Privet Drive, Little Whinging"),
    ("never arrived at 221B Baker Street, London NW1 6XE", "221B Baker Street, London"),
    # no street type: the postcode and town after the number make it an address
    ("Complejo Hospitalario de Navarra. Irunlarrea, 4 31008 Pamplona", "Irunlarrea, 4"),
    ("Sant Pau. Sant Antoni María i Claret, 167. 08025 Barcelona.", "Sant Antoni María i Claret, 167"),
    ("Praxis: Lindenhof, 3, 8001 Zürich", "Lindenhof, 3"),
    # numbered streets, Roman numerals, numbers written with "No." or "#", number first in Italian
    ("Dr. José Vera Calle 25 no 1g-89, Bogotá", "Calle 25 no 1g-89"),
    ("Clínica Universitaria Av. Pío XII, 36 - 31080 Pamplona", "Av. Pío XII, 36"),
    ("Domicilio: 4, Piazza della Repubblica\nLocalidad: Livorno", "4, Piazza della Repubblica"),
    ("Jane lives at Kerkstraat 12, 1017 GK Amsterdam.", "Kerkstraat 12, 1017 GK Amsterdam"),
    ("Domicilio: Calle González Besada, 25 5A .\nLocalidad: Oviedo", "Calle González Besada, 25 5A"),
])
def test_an_address_in_its_countrys_format_is_found(text, address):
    assert address in addresses(text), addresses(text)


@pytest.mark.parametrize("text", [
    "the Calle is 5 km long", "Via email only", "route 66", "Plaza 3 was closed", "see Rue 21 store",
    "RAS KERNEL FATAL instruction address: 0x00004ed8", "Place your order 12 times", "ring 3 times",
    "In Table 3, 12345 Patients were seen", "See Figure 2, 2019 Report", "Room 12 - 20012 Visitors",
])
def test_look_alikes_are_not_addresses(text):
    assert addresses(text) == []


@pytest.mark.parametrize("text, street, institution", [
    ("Hospital Universitario de Albacete Hermanos Falcó, s/n - 02006 Albacete", "Hermanos Falcó, s/n", "Hospital"),
    ("Instituto Oncológico Aldaconea, 44 E-20012 San Sebastián", "Aldaconea, 44", "Instituto"),
])
def test_an_address_after_an_institution_leaves_the_institution_out(text, street, institution):
    [found] = addresses(text)
    assert found.endswith(street) and institution not in found, found


def test_a_name_inside_an_address_is_part_of_the_address_not_a_person():
    from veil.detectors.base import merge_findings
    from veil.schemas import Category, Finding

    text = "Médico: Dra. Ana Ruiz Calle Mayor 5"
    address = Finding(start=text.index("Calle"), end=len(text), entity="POSTAL_ADDRESS", category=Category.PII,
                      detector="pii", score=0.85)
    street = Finding(start=text.index("Mayor"), end=text.index("Mayor") + 5, entity="PERSON", category=Category.PII,
                     detector="ner", score=0.88)
    overlapping = Finding(start=text.index("Ana"), end=text.index("Mayor") + 5, entity="PERSON",
                          category=Category.PII, detector="ner", score=0.88)
    merged = merge_findings([address, street, overlapping], text)
    assert [(text[f.start:f.end], f.entity) for f in merged] == [("Ana Ruiz", "PERSON"), ("Calle Mayor 5", "POSTAL_ADDRESS")]
