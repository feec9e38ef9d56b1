import pytest

from veil.detectors.language import guess


@pytest.mark.parametrize("text, lang", [
    ("The patient was admitted on Monday and she has been seen by the team in the morning.", "en"),
    ("El paciente ingresó el lunes por la mañana y fue valorado por el equipo de guardia en la planta.", "es"),
    ("Der Patient wurde am Montag aufgenommen und ist von dem Team auf der Station gesehen worden.", "de"),
    ("Le patient a été admis lundi et il est suivi par une équipe dans le service depuis.", "fr"),
    ("Il paziente è stato ricoverato lunedì e non è stato visto dal medico della sezione.", "it"),
    ("O paciente foi internado na segunda e não é visto pelo médico da equipe desde então.", "pt"),
])
def test_when_a_text_has_running_words_then_its_language_is_guessed(text, lang):
    assert guess(text) == lang


@pytest.mark.parametrize("text", ["Dragana Petrović", "sshd[211]: Accepted publickey for root", "@ana lol 😂 #tbt", ""])
def test_when_a_text_is_too_short_to_tell_then_no_guess(text):
    assert guess(text) is None
