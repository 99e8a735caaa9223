grep -q "runbook.md:4:1: step 'escape': gate error: runbook.md:4: attempt to index a nil value (global 'io')" err.txt
