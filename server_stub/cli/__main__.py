from server_stub.cli.main import main

raise SystemExit(main())
