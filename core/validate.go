package core

// Input limits. Values beyond them are invalid_request.
const (
	MaxGameIDLen   = 64
	MaxImageRefLen = 512
)

// ValidateGameID checks id against 1–64 chars of [a-z0-9][a-z0-9_-]*.
func ValidateGameID(id string) error {
	if id == "" {
		return Errorf(CodeInvalidRequest, "game_id must not be empty")
	}
	if len(id) > MaxGameIDLen {
		return Errorf(CodeInvalidRequest, "game_id is %d chars long; at most %d are allowed", len(id), MaxGameIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')
		if !ok {
			return Errorf(CodeInvalidRequest, "game_id %q must match [a-z0-9][a-z0-9_-]*", id)
		}
	}
	return nil
}
