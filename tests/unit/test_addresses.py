"""Guards actions/addresses.parse_address: a one-line address a shopper types is split into street,
postcode, city and country (NL, DE, BE, GB, IE, PT, PL postcodes; a country name at the end overrides
the order's country), and an incomplete one names the first missing part ("street", "postcode", "city")."""

from __future__ import annotations

import pytest

from actions.addresses import parse_address
from actions.backends.models import Address


def addr(line1, postcode, city, country, line2=None) -> Address:
    return Address(line1=line1, city=city, postcode=postcode, country=country, line2=line2)


@pytest.mark.parametrize(
    "text, default, expected",
    [
        (
            "Keizersgracht 123, 1015 CJ Amsterdam, Netherlands",
            "DE",
            addr("Keizersgracht 123", "1015 CJ", "Amsterdam", "NL"),
        ),
        ("Keizersgracht 123, 1015 CJ Amsterdam", "NL", addr("Keizersgracht 123", "1015 CJ", "Amsterdam", "NL")),
        ("Keizersgracht 123, 1015 CJ, Amsterdam", "NL", addr("Keizersgracht 123", "1015 CJ", "Amsterdam", "NL")),
        ("Keizersgracht 123, 1015cj amsterdam.", "NL", addr("Keizersgracht 123", "1015CJ", "amsterdam", "NL")),
        ("Hauptstraße 5, 10115 Berlin, Germany", "NL", addr("Hauptstraße 5", "10115", "Berlin", "DE")),
        ("Hauptstraße 5, 10115 Berlin, Deutschland", "NL", addr("Hauptstraße 5", "10115", "Berlin", "DE")),
        ("Rue de la Loi 16, 1000 Bruxelles, Belgique", "NL", addr("Rue de la Loi 16", "1000", "Bruxelles", "BE")),
        ("Meir 1, 2000 Antwerpen, België", "NL", addr("Meir 1", "2000", "Antwerpen", "BE")),
        ("10 Downing Street, London SW1A 2AA, UK", "NL", addr("10 Downing Street", "SW1A 2AA", "London", "GB")),
        ("221B Baker Street, London nw1 6xe, England", "NL", addr("221B Baker Street", "NW1 6XE", "London", "GB")),
        ("10 Downing Street, London SW1A 2AA", "GB", addr("10 Downing Street", "SW1A 2AA", "London", "GB")),
        ("1 Grafton Street, Dublin D02 X285, Ireland", "NL", addr("1 Grafton Street", "D02 X285", "Dublin", "IE")),
        ("Rua Augusta 10, 1100-053 Lisboa, Portugal", "NL", addr("Rua Augusta 10", "1100-053", "Lisboa", "PT")),
        ("ul. Marszałkowska 1, 00-624 Warszawa, Poland", "NL", addr("ul. Marszałkowska 1", "00-624", "Warszawa", "PL")),
    ],
)
def test_complete_addresses(text, default, expected):
    parsed = parse_address(text, default)
    assert parsed.missing is None
    assert parsed.address == expected


def test_country_defaults_to_the_orders_country():
    assert parse_address("Hauptstraße 5, 10115 Berlin", "DE").address.country == "DE"
    assert parse_address("Keizersgracht 123, 1015 CJ Amsterdam").address.country == "NL"


def test_country_name_is_case_insensitive():
    parsed = parse_address("Keizersgracht 123, 1015 CJ Amsterdam, THE NETHERLANDS", "BE")
    assert parsed.address.country == "NL"


def test_extra_parts_between_street_and_postcode_become_line2():
    parsed = parse_address("Keizersgracht 123, 3rd floor, 1015 CJ Amsterdam, Netherlands")
    assert parsed.address == addr("Keizersgracht 123", "1015 CJ", "Amsterdam", "NL", line2="3rd floor")


def test_newlines_are_read_as_separators_and_spaces_collapsed():
    parsed = parse_address("Keizersgracht   123\n1015 CJ   Amsterdam\nNetherlands")
    assert parsed.address == addr("Keizersgracht 123", "1015 CJ", "Amsterdam", "NL")


@pytest.mark.parametrize(
    "text, missing",
    [
        ("", "street"),
        ("   ", "street"),
        (" , , ", "street"),
        ("Keizersgracht, 1015 CJ Amsterdam", "street"),  # no house number
        ("123, 1015 CJ Amsterdam", "street"),  # no street name
        ("Keizersgracht 123", "postcode"),
        ("Keizersgracht 123, Amsterdam", "postcode"),
        ("Keizersgracht 123, Amsterdam, Netherlands", "postcode"),
        ("Keizersgracht 123, 1015 CJ", "city"),
        ("Keizersgracht 123, 1015 CJ, Netherlands", "city"),
        ("Keizersgracht 123, 1015 CJ Amsterdam, Narnia", "city"),  # an unknown trailing part is not a city
    ],
)
def test_incomplete_addresses_name_what_is_missing(text, missing):
    parsed = parse_address(text)
    assert parsed.address is None
    assert parsed.missing == missing


def test_a_postcode_only_one_country_writes_tells_the_country():
    parsed = parse_address("10 Downing Street, London SW1A 2AA", "NL").address
    assert (parsed.country, parsed.postcode, parsed.city) == ("GB", "SW1A 2AA", "London")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("10 Downing Street, London, SW1A 2AA, UK", addr("10 Downing Street", "SW1A 2AA", "London", "GB")),
        ("1 Grafton Street, Dublin 2, D02 X285, Ireland", addr("1 Grafton Street", "D02 X285", "Dublin 2", "IE")),
    ],
)
def test_city_before_a_separate_postcode_part(text, expected):
    assert parse_address(text).address == expected


def test_eircode_d6w_routing_key():
    parsed = parse_address("1 Main Street, Dublin D6W XK12, Ireland")
    assert parsed.address == addr("1 Main Street", "D6W XK12", "Dublin", "IE")


def test_luxembourg_postcode_prefix():
    parsed = parse_address("2 Rue du Fort, L-1234 Luxembourg, Luxembourg")
    assert parsed.address is not None
    assert parsed.address.city == "Luxembourg"
