from maildoctor.launcher import main

main()
