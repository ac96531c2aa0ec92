"""``python -m dqn_cartpole``: trains like the other chapters (see dqn_cartpole.run)."""

from dqn_cartpole.run import main

if __name__ == "__main__":
    main()
