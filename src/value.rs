//! Typed values as the platform stores them: exact decimals, dates distinct from instants.
//!
//! Dates and instants use the proleptic Gregorian calendar and Howard Hinnant's
//! `days_from_civil` algorithms, so no calendar crate is needed inside the component.

use std::cmp::Ordering;
use std::fmt;

/// A typed attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// Text, verbatim.
    Text(String),
    /// An exact decimal number.
    Decimal(Decimal),
    /// A boolean.
    Boolean(bool),
    /// A calendar date.
    Date(Date),
    /// An instant in UTC.
    DateTime(Instant),
}

/// The most digits after the decimal point a [`Decimal`] keeps: the platform's decimal
/// attributes allow up to 28, like .NET's `decimal`.
pub const MAX_DECIMAL_SCALE: u32 = 28;

/// An exact decimal: `mantissa / 10^scale`.
///
/// `i128` holds 38 significant digits, more than the platform's 28-digit decimals, so
/// arithmetic on stored values is exact; an operation whose exact result does not fit is
/// an error for the caller to report, never a silent rounding.
#[derive(Clone, Copy, Debug)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

/// Why a text is not a decimal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecimalError {
    /// Not digits with an optional sign and decimal point.
    NotANumber,
    /// Written with an exponent (`1.5e3`).
    Exponent,
    /// More digits than an exact decimal holds.
    TooManyDigits,
    /// More digits after the point than [`MAX_DECIMAL_SCALE`].
    TooManyDecimals(usize),
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecimalError::NotANumber => f.write_str("not a decimal number (expected digits with an optional sign and decimal point, such as -1043.01)"),
            DecimalError::Exponent => f.write_str("written with an exponent, which an exact decimal does not take; write it in plain decimal notation (1.5e3 as 1500)"),
            DecimalError::TooManyDigits => f.write_str("beyond the exact range: an exact decimal holds at most 38 significant digits"),
            DecimalError::TooManyDecimals(n) => write!(f, "{n} digits after the decimal point; an exact decimal keeps at most {MAX_DECIMAL_SCALE}"),
        }
    }
}

impl Decimal {
    /// Zero.
    pub const ZERO: Decimal = Decimal {
        mantissa: 0,
        scale: 0,
    };

    /// `mantissa / 10^scale`, or `None` when the scale exceeds [`MAX_DECIMAL_SCALE`].
    pub fn new(mantissa: i128, scale: u32) -> Option<Decimal> {
        (scale <= MAX_DECIMAL_SCALE).then_some(Decimal { mantissa, scale })
    }

    /// A whole number.
    pub fn from_i64(n: i64) -> Decimal {
        Decimal {
            mantissa: n as i128,
            scale: 0,
        }
    }

    /// The mantissa.
    pub fn mantissa(&self) -> i128 {
        self.mantissa
    }

    /// The number of digits after the decimal point.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Parse plain decimal notation: optional sign, digits, optional point and digits.
    /// Exponents are refused: the platform never writes them and they hide precision.
    pub fn parse(text: &str) -> Result<Decimal, DecimalError> {
        let bytes = text.as_bytes();
        let (negative, digits) = match bytes.first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (int, frac) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (digits.contains('.') && frac.is_empty() && int.is_empty())
        {
            let exponent = digits.split_once(['e', 'E']).is_some_and(|(m, e)| {
                !m.is_empty()
                    && m.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                    && e.trim_start_matches(['+', '-'])
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                    && !e.trim_start_matches(['+', '-']).is_empty()
            });
            return Err(if exponent {
                DecimalError::Exponent
            } else {
                DecimalError::NotANumber
            });
        }
        let frac = frac.trim_end_matches('0');
        let scale = frac.len() as u32;
        if scale > MAX_DECIMAL_SCALE {
            return Err(DecimalError::TooManyDecimals(frac.len()));
        }
        let mut mantissa: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add((b - b'0') as i128))
                .ok_or(DecimalError::TooManyDigits)?;
        }
        Ok(Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale,
        }
        .normalized())
    }

    /// The same number with trailing fractional zeros removed (`1.50` becomes `1.5`).
    pub fn normalized(self) -> Decimal {
        let mut d = self;
        while d.scale > 0 && d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        d
    }

    /// Both operands brought to the larger scale, or `None` on overflow.
    pub fn aligned(self, other: Decimal) -> Option<(i128, i128, u32)> {
        let scale = self.scale.max(other.scale);
        let a = self
            .mantissa
            .checked_mul(10i128.checked_pow(scale - self.scale)?)?;
        let b = other
            .mantissa
            .checked_mul(10i128.checked_pow(scale - other.scale)?)?;
        Some((a, b, scale))
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// `self + other`, exact, or `None` when the result does not fit.
    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let (a, b, scale) = self.normalized().aligned(other.normalized())?;
        Some(Decimal::fitted(a.checked_add(b)?, scale)?.normalized())
    }

    /// `self - other`, exact, or `None` when the result does not fit.
    pub fn checked_sub(self, other: Decimal) -> Option<Decimal> {
        self.checked_add(other.checked_neg()?)
    }

    /// `-self`, or `None` for the one mantissa whose negation does not fit.
    pub fn checked_neg(self) -> Option<Decimal> {
        Some(Decimal {
            mantissa: self.mantissa.checked_neg()?,
            scale: self.scale,
        })
    }

    /// `self * other`. Exact when the product has at most [`MAX_DECIMAL_SCALE`] digits
    /// after the point; otherwise rounded there, half away from zero (as .NET's decimal
    /// does). `None` when the product does not fit.
    pub fn checked_mul(self, other: Decimal) -> Option<Decimal> {
        let (a, b) = (self.normalized(), other.normalized());
        let mantissa = a.mantissa.checked_mul(b.mantissa)?;
        Decimal::fitted(mantissa, a.scale + b.scale).map(Decimal::normalized)
    }

    /// `self / other`, or `None` when `other` is zero or the quotient does not fit.
    ///
    /// Exact when the quotient terminates within [`MAX_DECIMAL_SCALE`] digits after the
    /// point (`1 / 8` is `0.125`); otherwise rounded there, half away from zero
    /// (`2 / 3` is `0.6666666666666666666666666667`).
    pub fn checked_div(self, other: Decimal) -> Option<Decimal> {
        if other.is_zero() {
            return None;
        }
        let (a, b, _) = self.normalized().aligned(other.normalized())?;
        let negative = (a < 0) != (b < 0);
        let (n, d) = (a.unsigned_abs(), b.unsigned_abs());
        let mut quotient = n / d;
        let mut rest = n % d;
        let mut scale = 0u32;
        let limit = i128::MAX as u128;
        // Long division, one digit after the point at a time, while digits fit.
        while rest != 0 && scale < MAX_DECIMAL_SCALE {
            let (Some(r10), Some(q10)) = (rest.checked_mul(10), quotient.checked_mul(10)) else {
                break;
            };
            let Some(next) = q10.checked_add(r10 / d).filter(|n| *n <= limit) else {
                break;
            };
            quotient = next;
            rest = r10 % d;
            scale += 1;
        }
        // Round half away from zero on what is left: rest / d >= 1/2.
        if rest != 0 && rest >= d - rest {
            quotient = quotient.checked_add(1)?;
        }
        if quotient > limit {
            return None;
        }
        let mantissa = quotient as i128;
        Some(
            Decimal {
                mantissa: if negative { -mantissa } else { mantissa },
                scale,
            }
            .normalized(),
        )
    }

    /// The value as an `i64` when it is a whole number that fits, else `None`.
    pub fn to_i64(&self) -> Option<i64> {
        let d = self.normalized();
        if d.scale != 0 {
            return None;
        }
        i64::try_from(d.mantissa).ok()
    }

    /// `mantissa / 10^scale` brought within [`MAX_DECIMAL_SCALE`] by rounding half away
    /// from zero, or `None` when even that does not fit.
    fn fitted(mantissa: i128, scale: u32) -> Option<Decimal> {
        if scale <= MAX_DECIMAL_SCALE {
            return Some(Decimal { mantissa, scale });
        }
        let drop = scale - MAX_DECIMAL_SCALE;
        // 10^38 is the largest power of ten in an i128; dropping more digits leaves zero.
        let Some(divisor) = 10i128.checked_pow(drop) else {
            return Some(Decimal::ZERO);
        };
        let (q, r) = (mantissa / divisor, mantissa % divisor);
        let up = r.unsigned_abs() >= divisor.unsigned_abs() - r.unsigned_abs();
        let q = if up {
            q.checked_add(mantissa.signum())?
        } else {
            q
        };
        Some(Decimal {
            mantissa: q,
            scale: MAX_DECIMAL_SCALE,
        })
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        // The common case, exactly and in 64-bit arithmetic: both mantissas fit in an i64
        // and one is brought to the other's scale. (128-bit multiplication and division
        // are library calls in wasm; this keeps a filter's `[MSRP] > 100` off them.)
        let diff = self.scale.abs_diff(other.scale);
        if let (Ok(a), Ok(b)) = (i64::try_from(self.mantissa), i64::try_from(other.mantissa))
            && let Some(p) = 10i64.checked_pow(diff)
        {
            let (x, y) = if self.scale < other.scale {
                (a.checked_mul(p), Some(b))
            } else {
                (Some(a), b.checked_mul(p))
            };
            if let (Some(x), Some(y)) = (x, y) {
                return x.cmp(&y);
            }
        }
        let (a, b) = (self.normalized(), other.normalized());
        match a.aligned(b) {
            Some((x, y, _)) => x.cmp(&y),
            // Only reachable when one side has more than 38 digits once aligned: the
            // signs and magnitudes then still order them.
            None => a
                .mantissa
                .signum()
                .cmp(&b.mantissa.signum())
                .then_with(|| (a.scale).cmp(&b.scale).reverse()),
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        if self.mantissa < 0 {
            f.write_str("-")?;
        }
        let scale = self.scale as usize;
        if scale == 0 {
            return f.write_str(&digits);
        }
        if digits.len() > scale {
            let (i, fr) = digits.split_at(digits.len() - scale);
            write!(f, "{i}.{fr}")
        } else {
            write!(f, "0.{}{}", "0".repeat(scale - digits.len()), digits)
        }
    }
}

/// A calendar date (proleptic Gregorian), always valid once constructed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// The years a [`Date`] may have: four digits, as ISO-8601 without extension and as the
/// platform's date attributes allow.
pub const YEAR_RANGE: std::ops::RangeInclusive<i32> = 1..=9999;

impl Date {
    /// A date, or `None` when the day does not exist or the year is outside [`YEAR_RANGE`].
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        (YEAR_RANGE.contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month))
        .then_some(Date { year, month, day })
    }

    /// The year.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn days_since_epoch(&self) -> i64 {
        days_from_civil(self.year as i64, self.month as i64, self.day as i64)
    }

    /// The date `days` days after 1970-01-01, or `None` outside [`YEAR_RANGE`].
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        let (y, m, d) = civil_from_days(days);
        if !YEAR_RANGE.contains(&(y as i32)) || y > i32::MAX as i64 {
            return None;
        }
        Date::new(y as i32, m as u8, d as u8)
    }

    /// Day of the week, 0 = Sunday to 6 = Saturday.
    pub fn weekday(&self) -> u8 {
        // 1970-01-01 was a Thursday (4).
        (self.days_since_epoch() + 4).rem_euclid(7) as u8
    }

    /// Parse `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        Date::new(
            digits(&b[0..4])? as i32,
            digits(&b[5..7])? as u8,
            digits(&b[8..10])? as u8,
        )
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Fold a letter to lower case for case-insensitive comparison, one character to one
/// character, for the scripts of the platform's markets: Latin (ASCII, Latin-1 and Latin
/// Extended-A), Greek and Cyrillic. Other characters compare as they are.
///
/// Rules rather than Unicode's full case tables: those tables cost the component about
/// 18 KB, over its size budget, for scripts whose letters rarely differ only in case in
/// master data.
pub fn fold_case(c: char) -> char {
    let u = c as u32;
    let lower = match u {
        0x41..=0x5A => u + 0x20,
        // Latin-1: À-Þ, except × (U+00D7).
        0xC0..=0xDE if u != 0xD7 => u + 0x20,
        // Latin Extended-A: pairs, upper case first, with two runs offset by one.
        0x0100..=0x012F | 0x0132..=0x0137 | 0x014A..=0x0177 if u.is_multiple_of(2) => u + 1,
        0x0139..=0x0148 | 0x0179..=0x017E if u % 2 == 1 => u + 1,
        0x0178 => 0xFF,
        // Greek: Α-Ω (U+03A2 is unassigned), and the accented capitals.
        0x0391..=0x03A9 if u != 0x03A2 => u + 0x20,
        0x0386 => 0x03AC,
        0x0388..=0x038A => u + 0x25,
        0x038C => 0x03CC,
        0x038E..=0x038F => u + 0x3F,
        // Final sigma compares as sigma.
        0x03C2 => 0x03C3,
        // Cyrillic: Ѐ-Џ and А-Я.
        0x0400..=0x040F => u + 0x50,
        0x0410..=0x042F => u + 0x20,
        _ => u,
    };
    char::from_u32(lower).unwrap_or(c)
}

/// Whether `year` is a Gregorian leap year.
pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days in a month of a year.
pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
    })
}

/// An instant on the UTC time line. Always within years 1 to 9999 once validated by
/// [`Instant::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanoseconds: u32,
}

/// Seconds since the epoch of 0001-01-01T00:00:00Z.
const MIN_SECONDS: i64 = -62_135_596_800;
/// Seconds since the epoch of 9999-12-31T23:59:59Z.
const MAX_SECONDS: i64 = 253_402_300_799;

impl Instant {
    /// An instant, or `None` when the nanoseconds are out of range or the instant falls
    /// outside years 1 to 9999 (which RFC 3339 cannot write).
    pub fn new(seconds: i64, nanoseconds: u32) -> Option<Instant> {
        (nanoseconds < 1_000_000_000 && (MIN_SECONDS..=MAX_SECONDS).contains(&seconds)).then_some(
            Instant {
                seconds,
                nanoseconds,
            },
        )
    }

    /// The instant at a UTC date and time of day.
    pub fn from_date_time(date: Date, hour: u32, minute: u32, second: u32, nanos: u32) -> Instant {
        Instant {
            seconds: date.days_since_epoch() * 86_400
                + hour as i64 * 3600
                + minute as i64 * 60
                + second as i64,
            nanoseconds: nanos,
        }
    }

    /// The UTC date of this instant.
    pub fn date(&self) -> Date {
        let (y, m, d) = civil_from_days(self.seconds.div_euclid(86_400));
        Date {
            year: y as i32,
            month: m as u8,
            day: d as u8,
        }
    }

    /// Seconds since midnight UTC.
    pub fn seconds_of_day(&self) -> u32 {
        self.seconds.rem_euclid(86_400) as u32
    }

    /// RFC 3339 in UTC with `Z`, with milliseconds only when they are not zero.
    pub fn to_rfc3339(&self) -> String {
        let s = self.seconds_of_day();
        let mut out = format!(
            "{}T{:02}:{:02}:{:02}",
            self.date(),
            s / 3600,
            s / 60 % 60,
            s % 60
        );
        if self.nanoseconds != 0 {
            let frac = format!("{:09}", self.nanoseconds);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }

    /// Parse RFC 3339 (`2024-06-15T10:30:00Z`, `...+02:00`, fractional seconds allowed;
    /// a space may stand for the `T`).
    pub fn parse_rfc3339(text: &str) -> Option<Instant> {
        let b = text.as_bytes();
        if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let date = Date::parse(&text[..10])?;
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (h, mi, s) = (
            digits(&b[11..13])?,
            digits(&b[14..16])?,
            digits(&b[17..19])?,
        );
        if h > 23 || mi > 59 || s > 59 {
            return None;
        }
        let mut rest = &text[19..];
        let mut nanos = 0u32;
        if let Some(frac) = rest.strip_prefix('.') {
            let n = frac.bytes().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || n > 9 {
                return None;
            }
            nanos = digits(&frac.as_bytes()[..n])? * 10u32.pow(9 - n as u32);
            rest = &frac[n..];
        }
        let offset = match rest {
            "Z" | "z" => 0i64,
            _ => {
                let o = rest.as_bytes();
                if o.len() != 6 || o[3] != b':' || !matches!(o[0], b'+' | b'-') {
                    return None;
                }
                let (oh, om) = (digits(&o[1..3])?, digits(&o[4..6])?);
                if oh > 23 || om > 59 {
                    return None;
                }
                let v = (oh * 3600 + om * 60) as i64;
                if o[0] == b'-' { -v } else { v }
            }
        };
        let local = Instant::from_date_time(date, h, mi, s, nanos);
        Instant::new(local.seconds - offset, nanos)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Text(t) => f.write_str(t),
            Value::Decimal(d) => write!(f, "{d}"),
            Value::Boolean(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Value::Date(d) => write!(f, "{d}"),
            Value::DateTime(i) => f.write_str(&i.to_rfc3339()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_the_decimal_cannot_hold_says_why() {
        assert_eq!(Decimal::parse("1.5e3"), Err(DecimalError::Exponent));
        assert_eq!(Decimal::parse("-2E-4"), Err(DecimalError::Exponent));
        assert_eq!(Decimal::parse("12,5"), Err(DecimalError::NotANumber));
        assert_eq!(Decimal::parse("e5"), Err(DecimalError::NotANumber));
        let big = "9".repeat(39);
        assert_eq!(Decimal::parse(&big), Err(DecimalError::TooManyDigits));
        assert!(Decimal::parse(&"9".repeat(38)).is_ok());
        let fine = format!("0.{}", "1".repeat(29));
        assert_eq!(
            Decimal::parse(&fine),
            Err(DecimalError::TooManyDecimals(29))
        );
        assert!(Decimal::parse(&format!("0.{}", "1".repeat(28))).is_ok());
        assert!(
            DecimalError::Exponent
                .to_string()
                .contains("plain decimal notation")
        );
        assert!(
            DecimalError::TooManyDigits
                .to_string()
                .contains("exact range")
        );
    }

    #[test]
    fn decimal_order_is_exact_on_the_64_bit_path_and_off_it() {
        let mantissas = [
            0i128,
            1,
            -1,
            5,
            10,
            100,
            999,
            -1000,
            123_456_789,
            i64::MAX as i128,
            i64::MIN as i128,
            i64::MAX as i128 + 1,
            10i128.pow(30),
            -(10i128.pow(30)),
        ];
        let scales = [0u32, 1, 2, 5, 18, 19, 28];
        let reference = |a: Decimal, b: Decimal| {
            let (a, b) = (a.normalized(), b.normalized());
            a.aligned(b).map(|(x, y, _)| x.cmp(&y))
        };
        for &m1 in &mantissas {
            for &s1 in &scales {
                for &m2 in &mantissas {
                    for &s2 in &scales {
                        let a = Decimal {
                            mantissa: m1,
                            scale: s1,
                        };
                        let b = Decimal {
                            mantissa: m2,
                            scale: s2,
                        };
                        if let Some(want) = reference(a, b) {
                            assert_eq!(a.cmp(&b), want, "{a} vs {b}");
                            assert_eq!(b.cmp(&a), want.reverse(), "{b} vs {a}");
                        }
                    }
                }
            }
        }
        let d = |s: &str| Decimal::parse(s).unwrap();
        assert_eq!(d("100"), d("100.00"));
        assert!(d("100.01") > d("100"));
        assert!(d("-0.5") < d("0"));
    }

    #[test]
    fn decimals_parse_normalise_and_print_exactly() {
        for (text, shown) in [
            ("1043.01", "1043.01"),
            ("-0.50", "-0.5"),
            ("+7", "7"),
            (".25", "0.25"),
            ("3.", "3"),
            ("0.000001", "0.000001"),
        ] {
            assert_eq!(Decimal::parse(text).unwrap().to_string(), shown, "{text}");
        }
        for bad in ["", "-", ".", "1e5", "1.2.3", "12a", " 1"] {
            assert!(Decimal::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn case_folding_covers_latin_greek_and_cyrillic() {
        let fold = |s: &str| s.chars().map(fold_case).collect::<String>();
        assert_eq!(fold("ZÜRICH Œuvre ŁÓDŹ ÿŸ"), "zürich œuvre łódź ÿÿ");
        assert_eq!(fold("ΑΘΗΝΑ Άλφα ΌΣ"), "αθηνα άλφα όσ");
        assert_eq!(fold("МОСКВА Ёж ЇЖАК"), "москва ёж їжак");
        assert_eq!(fold("×÷ 東京 ß"), "×÷ 東京 ß");
        assert_eq!(fold_case('ς'), 'σ');
        // Agreement with Unicode's own lower case across the covered blocks.
        for u in (0x41..0x5B)
            .chain(0xC0..0x17F)
            .chain(0x391..0x3AA)
            .chain(0x400..0x430)
        {
            let Some(c) = char::from_u32(u) else { continue };
            let mut lower = c.to_lowercase();
            if let (Some(l), None) = (lower.next(), lower.next())
                && u != 0x130
            {
                assert_eq!(fold_case(c), l, "U+{u:04X}");
            }
        }
    }

    #[test]
    fn decimals_compare_by_value_not_by_scale() {
        assert_eq!(
            Decimal::parse("1.50").unwrap(),
            Decimal::parse("1.5").unwrap()
        );
        assert!(Decimal::parse("2294.99").unwrap() > Decimal::parse("100").unwrap());
        assert!(Decimal::parse("-1").unwrap() < Decimal::parse("0.1").unwrap());
    }

    fn dec(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn decimal_arithmetic_is_exact() {
        assert_eq!(
            dec("2294.99")
                .checked_sub(dec("1251.98"))
                .unwrap()
                .to_string(),
            "1043.01"
        );
        assert_eq!(
            dec("0.1").checked_add(dec("0.2")).unwrap().to_string(),
            "0.3"
        );
        assert_eq!(
            dec("1.5").checked_mul(dec("-2.5")).unwrap().to_string(),
            "-3.75"
        );
        assert_eq!(dec("1").checked_div(dec("8")).unwrap().to_string(), "0.125");
        assert_eq!(
            dec("10").checked_div(dec("0.25")).unwrap().to_string(),
            "40"
        );
        assert_eq!(
            dec("2").checked_div(dec("3")).unwrap().to_string(),
            "0.6666666666666666666666666667"
        );
        assert_eq!(
            dec("-1").checked_div(dec("3")).unwrap().to_string(),
            "-0.3333333333333333333333333333"
        );
    }

    #[test]
    fn decimal_arithmetic_reports_overflow_and_division_by_zero() {
        let big = Decimal::new(i128::MAX, 0).unwrap();
        assert_eq!(big.checked_add(dec("1")), None);
        assert_eq!(big.checked_mul(dec("2")), None);
        assert_eq!(Decimal::new(i128::MIN, 0).unwrap().checked_neg(), None);
        assert_eq!(dec("1").checked_div(Decimal::ZERO), None);
        assert_eq!(big.checked_div(dec("0.1")), None);
        // A product with more than 28 digits after the point is rounded, not refused.
        let tiny = dec("0.0000000000000000000000000001");
        assert_eq!(
            tiny.checked_mul(dec("0.5")).unwrap().to_string(),
            "0.0000000000000000000000000001"
        );
        assert_eq!(tiny.checked_mul(dec("0.4")).unwrap().to_string(), "0");
    }

    #[test]
    fn decimals_convert_to_whole_numbers_only_when_whole() {
        assert_eq!(dec("42.000").to_i64(), Some(42));
        assert_eq!(dec("-7").to_i64(), Some(-7));
        assert_eq!(dec("2.5").to_i64(), None);
        assert_eq!(Decimal::new(i128::MAX, 0).unwrap().to_i64(), None);
    }

    #[test]
    fn dates_round_trip_through_day_counts() {
        for (text, weekday) in [
            ("1970-01-01", 4),
            ("2000-02-29", 2),
            ("2024-06-15", 6),
            ("0001-01-01", 1),
            ("9999-12-31", 5),
        ] {
            let d = Date::parse(text).unwrap();
            assert_eq!(Date::from_days_since_epoch(d.days_since_epoch()), Some(d));
            assert_eq!(d.to_string(), text);
            assert_eq!(d.weekday(), weekday, "{text}");
        }
        assert_eq!(Date::parse("2100-02-29"), None);
        assert_eq!(Date::parse("2024-13-01"), None);
    }

    #[test]
    fn instants_parse_offsets_and_print_utc() {
        let i = Instant::parse_rfc3339("2016-03-13T01:30:00-05:00").unwrap();
        assert_eq!(i.to_rfc3339(), "2016-03-13T06:30:00Z");
        let j = Instant::parse_rfc3339("2024-06-15T10:30:00.250Z").unwrap();
        assert_eq!(j.to_rfc3339(), "2024-06-15T10:30:00.25Z");
        assert_eq!(Instant::parse_rfc3339("2024-06-15T24:00:00Z"), None);
        assert_eq!(Instant::parse_rfc3339("2024-06-15"), None);
    }
}
