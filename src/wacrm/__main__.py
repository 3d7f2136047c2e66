from wacrm.cli import main

main()
