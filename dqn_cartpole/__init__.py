"""Chapter 5: DQN on CartPole (constant, dqn, cartpole, run)."""
