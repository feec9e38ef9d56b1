"""Quasi-identifiers: dates and ages. Alone they name no one; together with a place, an employer or
a rare condition they often do. They are looked for under the ``anonymize`` profile only
(``veil.policy.PROFILES``): a log line's timestamps are not personal data."""

from __future__ import annotations

from veil.detectors.base import PatternSpec
from veil.schemas import Category

PII = Category.PII

_MONTHS = (r"jan(?:uary|vier|uar)?|feb(?:ruary|ruar)?|f[ée]vr(?:ier)?|mar(?:ch|s|zo|ço)?|m[äa]rz|apr(?:il)?|avr(?:il)?"
           r"|abr(?:il)?|aprile|may(?:o)?|mai|maggio|maio|jun(?:e|io|i|ho)?|juin|giugno|jul(?:y|io|i|ho)?|juil(?:let)?"
           r"|luglio|aug(?:ust)?|ao[uû]t|ago(?:sto)?|sep(?:t(?:ember|iembre)?)?|sett(?:embre)?|set(?:embro)?"
           r"|oct(?:ober|ubre|obre)?|okt(?:ober)?|ott(?:obre)?|out(?:ubro)?|nov(?:ember|iembre|embre|embro)?"
           r"|dec(?:ember)?|d[ée]c(?:embre)?|dez(?:ember|embro)?|dic(?:iembre|embre)?")

SPECS = (
    PatternSpec(
        "DATE", PII,
        r"(?<![\d/.-])(?P<v>(?:19|20)\d{2}-\d{2}-\d{2}|\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)?\d{2})(?![\d/-]|\.\d)",
        0.85, "a calendar date", gate="date"),
    PatternSpec(
        "DATE", PII,
        rf"(?i:\b(?P<v>\d{{1,2}}\.?(?:º|er|st|nd|rd|th)?\s(?:de\s)?(?:{_MONTHS})\.?(?:,?\s(?:de\s|del\s)?\d{{4}})?"
        rf"|(?:{_MONTHS})\.?\s\d{{1,2}}(?:st|nd|rd|th)?,?\s\d{{4}}|(?:{_MONTHS})\s(?:de\s|del\s)?\d{{4}})\b)",
        0.85, "a date written with the month's name", gate="month"),
    PatternSpec(
        "AGE", PII,
        r"(?i:\b(?P<v>\d{1,3}(?:\s|-)?(?:años|año|anos|ans|anni|jahre|jahren|jährige[rn]?|år|jaar|lat|let|vuotta"
        r"|years?(?:[\s-]old)?|yrs?(?:[\s-]old)?|y/?o|year-old))\b)",
        0.85, "an age", gate="age"),
    PatternSpec(
        "AGE", PII,
        r"(?i:\b(?:aged|age|edad|âge|idade|età|alter|leeftijd|ålder|wiek)\s?:?\s(?:de\s)?(?P<v>\d{1,3})\b)",
        0.85, "a number after an age label", gate="age"),
)

__all__ = ["SPECS"]
