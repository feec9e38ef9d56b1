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
])
def test_an_address_in_its_countrys_format_is_found(text, address):
    assert address in addresses(text), addresses(text)


@pytest.mark.parametrize("text", [
    "the Calle is 5 km long", "Via email only", "route 66", "Plaza 3 was closed", "see Rue 21 store",
    "RAS KERNEL FATAL instruction address: 0x00004ed8", "Place your order 12 times", "ring 3 times",
])
def test_look_alikes_are_not_addresses(text):
    assert addresses(text) == []
