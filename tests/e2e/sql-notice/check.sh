grep -qx 'NOTICE:  halfway there' err.txt
