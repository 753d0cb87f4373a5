from educompte.cli import main

main()
