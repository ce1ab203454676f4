from mmsim.cli.commands import main

raise SystemExit(main())
