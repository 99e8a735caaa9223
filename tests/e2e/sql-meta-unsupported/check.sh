grep -q "runbook.md:4:1: step 'gexec': unsupported psql meta-command \\\\gexec" err.txt
