package resolvers

// MaxJSONValues bounds the JSON values (array elements, object members,
// scalars) of one request: a POST body (the HTTP layer), a GET's variables
// and extensions, a subscription socket's message. Decoded, each costs
// tens of bytes, so a 1 MiB text of one-byte numbers would otherwise
// become some 40 MiB of Go values; no danbao operation needs more than a
// few hundred.
const MaxJSONValues = 10000

// JSONValues counts the values in a JSON text, stopping past max: every
// value but the first follows a comma, a colon or an opening bracket
// outside strings, so those are counted. Malformed text is counted the
// same way and left to the decoder to refuse.
func JSONValues(b []byte, max int) int {
	n, inString, escaped := 1, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ',' || c == '[' || c == '{':
			if n++; n > max {
				return n
			}
		}
	}
	return n
}
