import pytest

from veil.detectors import checksums as ck


@pytest.mark.parametrize(("check", "good", "bad"), [
    (ck.luhn, "4111111111111111", "4111111111111112"),
    (ck.verhoeff, "234123412346", "234123412347"),
    (ck.iban_mod97, "DE89370400440532013000", "DE89370400440532013001"),
    (ck.nl_bsn, "111222333", "111222334"),
    (ck.de_tax_id, "86095742719", "86095742718"),
    (ck.fr_nir, "255081416802538", "255081416802539"),
    (ck.es_dni, "12345678Z", "12345678A"),
    (ck.es_dni, "X1234567L", "X1234567A"),
    (ck.it_fiscal_code, "RSSMRA85T10A562S", "RSSMRA85T10A562T"),
    (ck.br_cpf, "52998224725", "52998224726"),
])
def test_check_digit_accepts_valid_and_rejects_one_digit_off(check, good, bad):
    assert check(good) and not check(bad)


def test_repeated_digits_are_not_valid_cpf_or_bsn():
    assert not ck.br_cpf("11111111111") and not ck.nl_bsn("000000000")
