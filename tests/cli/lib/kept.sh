# Sourced by the tests that keep a throwaway server (`run --ephemeral-db
# --keep-db`): what the run's output says of the server it left running.
#   kept_server FILE   sets url (to connect), pid (its postmaster) and srv
#                      (its directory, to remove) from FILE; fails (status 1)
#                      when FILE does not say them
kept_server() {
  url=$(sed -n "s/^  psql '\(.*\)'$/\1/p" "$1")
  pid=$(sed -n 's/.*keeps running (pid \([0-9]*\)).*/\1/p' "$1")
  srv=$(sed -n 's/.*rm -rf \(.*\)$/\1/p' "$1")
  [ -n "$url" ] && [ -n "$pid" ] && [ -n "$srv" ]
}
