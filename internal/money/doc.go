// Package money holds danbao's representation of money: an integer count of
// minor units (fen for CNY, cents for USD, yen for JPY) together with an ISO
// 4217 currency, and the exact conversions between that and the decimal
// strings in major units that cross the API ("1234.56").
//
// Invariants:
//
//   - Money is never a float. Parsing and formatting work digit by digit on
//     int64/uint64, so every value an int64 can hold round-trips exactly and
//     overflow is detected exactly, not approximately.
//   - A Currency is usable only if it is in the registry (see Currencies);
//     its number of minor-unit digits comes from there and nowhere else.
//   - ParseAmount accepts exactly one syntax: an optional '-', one or more
//     ASCII digits, and optionally a '.' followed by one to Digits() digits.
//     Everything else (signs '+', exponents, spaces, group separators, a
//     leading or trailing dot, extra decimals) is INVALID_INPUT on field
//     "amount"; an unsupported currency is INVALID_INPUT on field "currency".
//   - FormatMinor writes exactly Digits() decimals and its output always
//     parses back with ParseAmount to the same value, math.MinInt64 included.
//   - Amounts a user may move are positive and at most MaxMinor minor units
//     (ParsePositive); sums of balances use Add and Sub, which report
//     overflow instead of wrapping.
package money
