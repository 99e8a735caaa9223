grep -q "runbook.md:4:1: step 'copy': unsupported psql meta-command \\\\copy" err.txt
