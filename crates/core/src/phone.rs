//! A small phone-number normaliser: any human-typed number plus an ISO country -> E.164 (`+<digits>`).
//!
//! Deliberately not a full numbering-plan library: it knows each country's calling code and trunk
//! prefix, strips punctuation, and checks the E.164 length bounds. It does not check that a number
//! is assigned or valid within its national plan.

use serde::Serialize;
use thiserror::Error;

/// Why a phone number could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PhoneError {
    /// Letters or other characters that do not belong in a phone number.
    #[error("phone number {input:?} contains {found:?}, which is not a digit, space or one of + - . ( ) /")]
    InvalidCharacter {
        /// The input.
        input: String,
        /// The offending character.
        found: char,
    },
    /// A national number without a country to read it in.
    #[error("phone number {input:?} has no international prefix and no country was given")]
    NoCountry {
        /// The input.
        input: String,
    },
    /// A country whose calling code this table does not know.
    #[error("no calling code known for country {country:?}")]
    UnknownCountry {
        /// The country code given.
        country: String,
    },
    /// Too few or too many digits for E.164 (8 to 15 with the country code).
    #[error(
        "phone number {input:?} has {digits} digits with its country code; E.164 allows 8 to 15"
    )]
    BadLength {
        /// The input.
        input: String,
        /// Digits counted.
        digits: usize,
    },
}

/// `(ISO alpha-2, calling code)`. Where several countries share a code, the first listed is the one
/// [`country_for_e164`] answers with.
const CALLING_CODES: &[(&str, &str)] = &[
    ("US", "1"),
    ("CA", "1"),
    ("PR", "1"),
    ("JM", "1"),
    ("BS", "1"),
    ("BB", "1"),
    ("TT", "1"),
    ("DO", "1"),
    ("RU", "7"),
    ("KZ", "7"),
    ("EG", "20"),
    ("ZA", "27"),
    ("GR", "30"),
    ("NL", "31"),
    ("BE", "32"),
    ("FR", "33"),
    ("ES", "34"),
    ("HU", "36"),
    ("IT", "39"),
    ("VA", "39"),
    ("RO", "40"),
    ("CH", "41"),
    ("AT", "43"),
    ("GB", "44"),
    ("GG", "44"),
    ("JE", "44"),
    ("IM", "44"),
    ("DK", "45"),
    ("SE", "46"),
    ("NO", "47"),
    ("PL", "48"),
    ("DE", "49"),
    ("PE", "51"),
    ("MX", "52"),
    ("CU", "53"),
    ("AR", "54"),
    ("BR", "55"),
    ("CL", "56"),
    ("CO", "57"),
    ("VE", "58"),
    ("MY", "60"),
    ("AU", "61"),
    ("ID", "62"),
    ("PH", "63"),
    ("NZ", "64"),
    ("SG", "65"),
    ("TH", "66"),
    ("JP", "81"),
    ("KR", "82"),
    ("VN", "84"),
    ("CN", "86"),
    ("TR", "90"),
    ("IN", "91"),
    ("PK", "92"),
    ("AF", "93"),
    ("LK", "94"),
    ("MM", "95"),
    ("IR", "98"),
    ("SS", "211"),
    ("MA", "212"),
    ("DZ", "213"),
    ("TN", "216"),
    ("LY", "218"),
    ("GM", "220"),
    ("SN", "221"),
    ("MR", "222"),
    ("ML", "223"),
    ("GN", "224"),
    ("CI", "225"),
    ("BF", "226"),
    ("NE", "227"),
    ("TG", "228"),
    ("BJ", "229"),
    ("MU", "230"),
    ("LR", "231"),
    ("SL", "232"),
    ("GH", "233"),
    ("NG", "234"),
    ("TD", "235"),
    ("CF", "236"),
    ("CM", "237"),
    ("CV", "238"),
    ("ST", "239"),
    ("GQ", "240"),
    ("GA", "241"),
    ("CG", "242"),
    ("CD", "243"),
    ("AO", "244"),
    ("GW", "245"),
    ("SC", "248"),
    ("SD", "249"),
    ("RW", "250"),
    ("ET", "251"),
    ("SO", "252"),
    ("DJ", "253"),
    ("KE", "254"),
    ("TZ", "255"),
    ("UG", "256"),
    ("BI", "257"),
    ("MZ", "258"),
    ("ZM", "260"),
    ("MG", "261"),
    ("ZW", "263"),
    ("NA", "264"),
    ("MW", "265"),
    ("LS", "266"),
    ("BW", "267"),
    ("SZ", "268"),
    ("KM", "269"),
    ("ER", "291"),
    ("GI", "350"),
    ("PT", "351"),
    ("LU", "352"),
    ("IE", "353"),
    ("IS", "354"),
    ("AL", "355"),
    ("MT", "356"),
    ("CY", "357"),
    ("FI", "358"),
    ("BG", "359"),
    ("LT", "370"),
    ("LV", "371"),
    ("EE", "372"),
    ("MD", "373"),
    ("AM", "374"),
    ("BY", "375"),
    ("AD", "376"),
    ("MC", "377"),
    ("SM", "378"),
    ("UA", "380"),
    ("RS", "381"),
    ("ME", "382"),
    ("XK", "383"),
    ("HR", "385"),
    ("SI", "386"),
    ("BA", "387"),
    ("MK", "389"),
    ("CZ", "420"),
    ("SK", "421"),
    ("LI", "423"),
    ("BZ", "501"),
    ("GT", "502"),
    ("SV", "503"),
    ("HN", "504"),
    ("NI", "505"),
    ("CR", "506"),
    ("PA", "507"),
    ("HT", "509"),
    ("BO", "591"),
    ("GY", "592"),
    ("EC", "593"),
    ("PY", "595"),
    ("SR", "597"),
    ("UY", "598"),
    ("BN", "673"),
    ("PG", "675"),
    ("FJ", "679"),
    ("HK", "852"),
    ("MO", "853"),
    ("KH", "855"),
    ("LA", "856"),
    ("BD", "880"),
    ("TW", "886"),
    ("MV", "960"),
    ("LB", "961"),
    ("JO", "962"),
    ("SY", "963"),
    ("IQ", "964"),
    ("KW", "965"),
    ("SA", "966"),
    ("YE", "967"),
    ("OM", "968"),
    ("PS", "970"),
    ("AE", "971"),
    ("IL", "972"),
    ("BH", "973"),
    ("QA", "974"),
    ("BT", "975"),
    ("MN", "976"),
    ("NP", "977"),
    ("TJ", "992"),
    ("TM", "993"),
    ("AZ", "994"),
    ("GE", "995"),
    ("KG", "996"),
    ("UZ", "998"),
];

/// Countries whose national numbers keep their leading 0 after the country code.
const KEEPS_LEADING_ZERO: &[&str] = &["IT", "VA", "SM"];

/// The calling code (without `+`) of an ISO alpha-2 country, case-insensitive.
pub fn calling_code(country: &str) -> Option<&'static str> {
    CALLING_CODES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(country.trim()))
        .map(|(_, code)| *code)
}

/// The country an E.164 number belongs to by its calling code (longest match; for shared codes the
/// most populous country, e.g. `+1` -> `US`).
pub fn country_for_e164(e164: &str) -> Option<&'static str> {
    let digits = e164.strip_prefix('+').unwrap_or(e164);
    (1..=3)
        .rev()
        .filter(|len| digits.len() > *len)
        .find_map(|len| {
            let prefix = digits.get(..len)?;
            CALLING_CODES
                .iter()
                .find(|(_, code)| *code == prefix)
                .map(|(c, _)| *c)
        })
}

/// Normalise a phone number to E.164 (`+` and 8 to 15 digits).
///
/// `country` (ISO alpha-2) is used to read numbers without an international prefix: a leading trunk
/// `0` is dropped (kept for Italy), a number that already starts with the country's calling code
/// (as Monday stores them, e.g. `31622222222` with `NL`) is taken as international. Idempotent:
/// normalising an E.164 number returns it unchanged.
pub fn normalize_phone(input: &str, country: Option<&str>) -> Result<String, PhoneError> {
    let trimmed = input.trim();
    let mut digits = String::new();
    let mut plus = false;
    for (i, ch) in trimmed.char_indices() {
        match ch {
            '0'..='9' => digits.push(ch),
            '+' if i == 0 => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' => {}
            other => {
                return Err(PhoneError::InvalidCharacter {
                    input: input.to_string(),
                    found: other,
                })
            }
        }
    }
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else {
        let country = country
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| PhoneError::NoCountry {
                input: input.to_string(),
            })?;
        let code = calling_code(country).ok_or_else(|| PhoneError::UnknownCountry {
            country: country.to_string(),
        })?;
        let keeps_zero = KEEPS_LEADING_ZERO
            .iter()
            .any(|c| c.eq_ignore_ascii_case(country));
        if code == "1" {
            // NANP: 10-digit national numbers never start with 0 or 1.
            if digits.len() == 11 && digits.starts_with('1') {
                digits
            } else {
                format!("1{digits}")
            }
        } else if digits.starts_with('0') && !keeps_zero {
            format!("{code}{}", &digits[1..])
        } else if digits.starts_with(code) && digits.len() >= code.len() + 7 {
            digits
        } else {
            format!("{code}{digits}")
        }
    };
    if !(8..=15).contains(&international.len()) || international.starts_with('0') {
        return Err(PhoneError::BadLength {
            input: input.to_string(),
            digits: international.len(),
        });
    }
    Ok(format!("+{international}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monday_stored_number_with_country() {
        assert_eq!(
            normalize_phone("31622222222", Some("NL")).unwrap(),
            "+31622222222"
        );
    }

    #[test]
    fn national_numbers_drop_trunk_zero_except_italy() {
        assert_eq!(
            normalize_phone("06 22 22 22 22", Some("NL")).unwrap(),
            "+31622222222"
        );
        assert_eq!(
            normalize_phone("020 7946 0958", Some("gb")).unwrap(),
            "+442079460958"
        );
        assert_eq!(
            normalize_phone("06 6982 1234", Some("IT")).unwrap(),
            "+390669821234"
        );
    }

    #[test]
    fn nanp_formats() {
        for raw in [
            "(415) 555-0100",
            "415.555.0100",
            "1-415-555-0100",
            "+1 415 555 0100",
            "001 415 555 0100",
        ] {
            assert_eq!(
                normalize_phone(raw, Some("US")).unwrap(),
                "+14155550100",
                "{raw}"
            );
        }
    }

    #[test]
    fn errors_name_the_input() {
        assert_eq!(
            normalize_phone("call me", Some("US")).unwrap_err().to_string(),
            "phone number \"call me\" contains 'c', which is not a digit, space or one of + - . ( ) /"
        );
        assert_eq!(
            normalize_phone("0612345678", None).unwrap_err().to_string(),
            "phone number \"0612345678\" has no international prefix and no country was given"
        );
        assert_eq!(
            normalize_phone("0612345678", Some("ZZ"))
                .unwrap_err()
                .to_string(),
            "no calling code known for country \"ZZ\""
        );
        assert_eq!(
            normalize_phone("+1234", None).unwrap_err().to_string(),
            "phone number \"+1234\" has 4 digits with its country code; E.164 allows 8 to 15"
        );
    }

    #[test]
    fn country_from_number() {
        assert_eq!(country_for_e164("+14155550100"), Some("US"));
        assert_eq!(country_for_e164("+31622222222"), Some("NL"));
        assert_eq!(country_for_e164("+353871234567"), Some("IE"));
        assert_eq!(country_for_e164("+442079460958"), Some("GB"));
        // Not a normalised number: no country, and no slicing panic inside a multi-byte char.
        assert_eq!(country_for_e164("+é1234567"), None);
        assert_eq!(country_for_e164("+3€1234567"), None);
        // The longest prefix that is a char boundary still matches.
        assert_eq!(country_for_e164("+1é"), Some("US"));
    }
}
