"""Studies: small, exact experiments that reproduce a claim of the papers and print a table."""
