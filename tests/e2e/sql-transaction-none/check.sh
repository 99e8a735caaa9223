grep -q "runbook.md:22:1: step 'wrapped': this statement cannot run inside a transaction block: add transaction=none" err.txt
