from dihub.cli.app import main

main()
