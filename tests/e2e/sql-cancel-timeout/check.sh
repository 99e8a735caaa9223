grep -qx 'left=0 status=usable' out.txt
grep -q "step 'slow': timed out after N.NNNs; the statement was cancelled on the server" err.txt
