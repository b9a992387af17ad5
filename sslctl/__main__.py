from sslctl.cli import main

main()
