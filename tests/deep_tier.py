"""The deep tier: the costly tests that ``make test`` (what CI runs) leaves out and ``make
test-deep`` runs.

Why a tier: on the project's CI machine kind (a 2-core AMD EPYC VM) the whole suite is CPU-bound
and took 29 – 31 min (3,421 test-s of pytest on two workers, 2026-12-08), over CI's 20-min limit,
and five stops of cuts to the tests' own costs took ≈ 1 – 2 min each. A test is here when

1. it costs ≥ 2.5 test-s there (the measured seconds follow each name: a fresh clone's run,
   2026-12-08, both workers busy), and
2. the feature it checks is already exercised end to end by a test CI keeps: it checks a
   failure mode again at another place (a node lost, a grader killed, a second signal), a
   variant (another SB3 algorithm, another kind of sandbox limit), or a property of the test
   harness or a benchmark rather than of lrgym, and
3. no issue's "must show" names it for CI (:data:`CI_KEEPS` lists those; a test checks that
   none of them is here).

One test an issue asks for, but not for CI, is here by that rule's spirit rather than its
letter: the independent dense search of constant LRs on every v2 instance (issue #10: "an
independent fine search per v2 instance (test)"; ≈ 310 CPU-s, the most costly test of the
suite). What it guards, the shipped references being the best constant LRs, changes only when
the references or the dynamics do: a new references file is shipped only with ``--ship``, after
the deep tier, and CI's ``test_v2_is_the_default_and_its_shipped_files_match_the_code``
fails on a change of the dynamics (the current code must reproduce every family's first
reference run's final loss to 1e-6 relative, and the suite, rule and task specs must match).

``make test-deep`` runs these ≈ 1,800 test-s (≈ 15 – 18 min on the 2-core VM) and must pass before
a change lands, as ``make test`` must; ``-m slow`` runs the long learning tests. Only the tier a
test runs in depends on this list: a name that no longer matches any test is refused by
``tests/test_deep_tier.py``, so a renamed test cannot drop out of both tiers unseen.
"""

#: tests the issues ask CI to run (each issue's "must show"): never deep
CI_KEEPS = (
    "tests/test_core_install.py::test_core_install_runs_500_episodes_of_the_flagship_id",  # 16
    "tests/leaderboard/test_ray_cluster.py::test_the_cluster_has_two_live_nodes",  # 15
    "tests/leaderboard/test_ray_cluster.py::test_quick_suite_gives_the_local_results_to_the_bit",  # 15
    "tests/leaderboard/test_ray_cluster.py::test_submissions_and_cheats_fail_the_same_way_in_the_ray_worker",  # 15
    "tests/leaderboard/test_ray_cluster.py::test_short_rllib_training_exports_a_gradable_policy",  # 15
    "tests/leaderboard/test_cheats.py::test_cheat_does_not_raise_its_score",  # 11
    "tests/leaderboard/test_transfer.py::test_quick_study_writes_table_plot_and_results",  # 14
)

#: the deep tier's tests, ``file::function`` (every parametrization of it), with their seconds
DEEP = (
    "tests/baselines/test_backend.py::test_a_ray_run_on_this_machine_says_nothing_of_rays_own_on_the_terminal",  # 21
    "tests/baselines/test_backend.py::test_an_address_asked_for_while_this_processs_own_local_instance_runs_is_refused",  # 27
    "tests/baselines/test_controller.py::test_the_reference_scan_holds_at_most_a_chunk_of_envs_at_once",  # 27
    "tests/baselines/test_node_fingerprint.py::test_every_driver_only_pattern_names_files_and_no_node_job_imports_one",  # 8
    "tests/baselines/test_ray_logs.py::test_rllibs_notices_are_not_said_and_its_other_warnings_are",  # 16
    "tests/baselines/test_ray_logs.py::test_verbose_or_the_variable_shows_everything",  # 19
    "tests/baselines/test_rllib_env.py::test_runners_cycle_apart_as_one_vector_env_of_all_their_sub_envs",  # 41
    "tests/baselines/test_rllib_export.py::test_a_plain_ppo_configs_log_lr_policy_is_exported_graded_and_drives_torch",  # 22
    "tests/baselines/test_rllib_export.py::test_rllibs_notices_are_dropped_as_train_rllib_drops_them",  # 24
    "tests/baselines/test_rllib_logdir.py::test_a_train_rllib_checkpoint_restores_with_rllibs_own_from_checkpoint",  # 26
    "tests/baselines/test_rllib_logdir.py::test_train_rllib_leaves_nothing_in_the_users_home",  # 31
    "tests/baselines/test_rllib_resume_seed.py::test_a_resumed_run_samples_fresh_streams_and_the_same_ones_when_resumed_again",  # 21
    "tests/baselines/test_rllib_warm.py::test_a_runner_after_the_warm_up_compiles_nothing",  # 72
    "tests/leaderboard/test_bench.py::test_the_store_folder_of_a_bench_killed_with_sigkill_is_removed_by_the_next_bench",  # 10
    "tests/leaderboard/test_cli.py::test_report_reads_the_curves_of_the_rows_it_draws_only",  # 22
    "tests/leaderboard/test_controller_ablation_command.py::test_the_command_grades_every_row_and_prints_the_readmes_table",  # 40
    "tests/leaderboard/test_grader_places.py::test_a_private_report_in_a_bound_folder_is_refused_a_later_policy_read_it",  # 6
    "tests/leaderboard/test_grader_places.py::test_a_refused_run_suite_leaves_the_file_system_as_it_was",  # 6
    "tests/leaderboard/test_grader_places.py::test_a_store_in_a_folder_of_its_own_keeps_a_journal_made_while_the_policy_runs_hidden",  # 13
    "tests/leaderboard/test_grader_places.py::test_a_store_named_in_lrgym_store_is_covered_in_a_run_writing_another",  # 7
    "tests/leaderboard/test_isolation.py::test_a_private_suites_failure_reasons_carry_nothing_the_policy_chose",  # 8
    "tests/leaderboard/test_isolation.py::test_a_private_suites_instances_and_seeds_stay_out_of_failure_reasons",  # 8
    "tests/leaderboard/test_job_agreement.py::test_a_dotted_installed_module_edited_during_a_job_fails_the_entry",  # 3
    "tests/leaderboard/test_job_agreement.py::test_a_dotted_installed_modules_stored_entry_records_the_hash_of_its_files",  # 6
    "tests/leaderboard/test_job_agreement.py::test_an_honest_entry_on_two_workers_records_its_one_hash_and_the_first_jobs_sandbox",  # 3
    "tests/leaderboard/test_job_layout.py::test_a_policy_asking_for_other_env_options_in_another_job_of_a_family_fails",  # 9
    "tests/leaderboard/test_own_family_board.py::test_the_controller_is_skipped_not_failed_on_a_family_it_has_no_weights_for",  # 6
    "tests/leaderboard/test_pool_cgroup_sweeps.py::test_a_worker_that_ended_normally_left_no_group_without_a_sweep",  # 5
    "tests/leaderboard/test_pool_cgroup_sweeps.py::test_the_pool_sweeps_once_per_process_before_its_first_worker",  # 6
    "tests/leaderboard/test_private_families.py::test_run_baselines_grades_a_private_suite_of_an_own_family_apart_from_the_default",  # 10
    "tests/leaderboard/test_private_outputs.py::test_a_private_pages_captions_and_legends_name_no_instance_or_seed",  # 9
    "tests/leaderboard/test_private_outputs.py::test_a_private_report_is_written_owner_only_and_says_so",  # 5
    "tests/leaderboard/test_private_size.py::test_run_baselines_grades_a_sized_private_suite_apart_from_the_default_size",  # 6
    "tests/leaderboard/test_ray_cluster.py::test_a_grader_actor_lost_with_its_node_is_named_and_its_job_runs_again",  # 38
    "tests/leaderboard/test_ray_cluster.py::test_a_group_over_its_time_limit_is_killed_with_its_grader_worker",  # 15
    "tests/leaderboard/test_ray_cluster.py::test_a_node_lost_mid_run_is_named_with_the_tasks_that_ran_again",  # 13
    "tests/leaderboard/test_ray_cluster.py::test_a_node_that_cannot_report_its_code_stops_the_run",  # 6
    "tests/leaderboard/test_ray_cluster.py::test_a_node_with_other_code_stops_the_run_before_its_results_count",  # 6
    "tests/leaderboard/test_ray_cluster.py::test_a_node_without_the_module_of_a_family_of_ones_own_stops_the_run",  # 7
    "tests/leaderboard/test_ray_cluster.py::test_a_ray_grader_stopped_by_sigterm_ends_its_grader_workers",  # 15
    "tests/leaderboard/test_ray_cluster.py::test_a_runtime_env_the_nodes_cannot_set_up_stops_train_rllib_naming_the_node",  # 27
    "tests/leaderboard/test_ray_cluster.py::test_a_submission_over_its_time_limit_on_ray_leaves_no_sandbox_cgroup_or_folder",  # 24
    "tests/leaderboard/test_ray_cluster.py::test_actors_and_tasks_ask_ray_for_the_memory_they_may_use",  # 6
    "tests/leaderboard/test_ray_cluster.py::test_actors_the_cluster_cannot_place_get_no_jobs",  # 10
    "tests/leaderboard/test_ray_cluster.py::test_imap_tasks_whose_worker_dies_are_retried_once",  # 22
    "tests/leaderboard/test_ray_cluster.py::test_references_and_tuning_give_the_local_values",  # 17
    "tests/leaderboard/test_ray_cluster.py::test_rllib_env_runners_on_a_node_with_other_code_stop_the_run_before_training",  # 21
    "tests/leaderboard/test_ray_cluster.py::test_the_drivers_interpreter_settings_hold_in_tasks_and_actors",  # 17
    "tests/leaderboard/test_ray_cluster.py::test_the_drivers_sandbox_setting_holds_on_the_nodes",  # 8
    "tests/leaderboard/test_ray_cluster.py::test_the_user_is_told_when_no_actor_can_be_placed",  # 12
    "tests/leaderboard/test_ray_cluster.py::test_two_nodes_of_one_machine_are_named_apart",  # 9
    "tests/leaderboard/test_report_plots.py::test_a_board_of_many_submissions_gets_family_figures_with_panels_of_one_height",  # 4
    "tests/leaderboard/test_report_plots.py::test_a_hosted_board_draws_its_best_submissions_and_the_ci_of_its_first_rows",  # 8
    "tests/leaderboard/test_report_plots.py::test_a_low_ranked_submission_is_in_every_plot",  # 5
    "tests/leaderboard/test_sandbox.py::test_a_policys_own_env_options_are_refused_for_zips_too",  # 16
    "tests/leaderboard/test_sandbox_cgroup_sweep.py::test_a_time_limit_kill_leaves_no_cgroup",  # 8
    "tests/leaderboard/test_sandbox_cgroup_sweep.py::test_the_groups_of_a_grader_killed_with_sigkill_mid_job_are_removed_by_the_next_grader",  # 19
    "tests/leaderboard/test_sandbox_cpu.py::test_children_over_the_sandbox_cpu_limit_together_fail_and_under_a_larger_one_pass",  # 10
    "tests/leaderboard/test_sandbox_global_streams.py::test_a_module_of_the_submissions_own_named_torch_is_imported_as_it_is",  # 3
    "tests/leaderboard/test_sandbox_global_streams.py::test_a_torch_stub_whose_getattr_raises_is_left_unseeded_and_one_whose_seed_raises_is_named",  # 9
    "tests/leaderboard/test_sandbox_global_streams.py::test_each_episode_draws_its_runs_own_streams_on_any_number_of_workers",  # 14
    "tests/leaderboard/test_sandbox_global_streams.py::test_the_torch_finder_leaves_torchs_loader_as_it_found_it",  # 4
    "tests/leaderboard/test_sandbox_global_streams.py::test_torch_is_seeded_after_a_check_for_it_that_imports_nothing",  # 7
    "tests/leaderboard/test_sandbox_global_streams.py::test_torchs_generator_is_seeded_where_the_policy_imports_torch",  # 10
    "tests/leaderboard/test_sandbox_hash_seed.py::test_a_policys_grade_does_not_depend_on_the_graders_hash_seed",  # 12
    "tests/leaderboard/test_sandbox_jobs.py::test_a_job_finds_no_mark_of_an_earlier_job_in_its_counters",  # 13
    "tests/leaderboard/test_sandbox_jobs.py::test_a_job_inherits_nothing_the_host_relayed_for_an_earlier_job",  # 8
    "tests/leaderboard/test_sandbox_jobs.py::test_a_module_installed_under_tmp_imports_in_every_job",  # 7
    "tests/leaderboard/test_sandbox_jobs.py::test_no_job_reaches_the_kernels_keys",  # 5
    "tests/leaderboard/test_sandbox_jobs.py::test_numbas_cache_folder_is_emptied_between_jobs_when_the_temp_dir_is_not_tmp",  # 2
    "tests/leaderboard/test_sandbox_limits.py::test_without_namespaces_a_policys_chain_of_folders_is_removed_and_its_entry_graded",  # 10
    "tests/leaderboard/test_sandbox_limits.py::test_without_namespaces_a_worker_killed_at_the_time_limit_leaves_no_policy_process_or_folder",  # 19
    "tests/leaderboard/test_sandbox_limits.py::test_without_namespaces_the_scratch_folder_is_measured_once_per_period_not_per_reply",  # 3
    "tests/leaderboard/test_sandbox_memory.py::test_a_sandbox_over_its_memory_limit_together_fails_and_under_a_larger_one_passes",  # 16
    "tests/leaderboard/test_sandbox_sb3.py::test_an_sb3_zip_passes_a_sandboxed_job_of_80_episodes_under_the_default_memory_limit",  # 39
    "tests/leaderboard/test_sandbox_sb3.py::test_the_hosts_sb3_imports_leave_no_folder_and_no_variable_behind",  # 9
    "tests/leaderboard/test_sandbox_setting.py::test_the_weak_mode_is_said_before_the_run",  # 9
    "tests/leaderboard/test_sandbox_status.py::test_a_forged_report_fails_the_policy_in_time_and_in_the_hosts_words",  # 17
    "tests/leaderboard/test_sb3_submission_sidecar.py::test_a_matching_algo_flag_grades_the_sidecar_as_without_it",  # 20
    "tests/leaderboard/test_sb3_submission_sidecar.py::test_a_sidecars_env_options_are_graded",  # 10
    "tests/leaderboard/test_sb3_submission_sidecar.py::test_a_users_own_json_beside_a_plain_zip_is_ignored",  # 18
    "tests/leaderboard/test_sb3_submission_sidecar.py::test_an_action_mode_failure_of_a_zip_is_worded_for_a_zip",  # 10
    "tests/leaderboard/test_stop_signals.py::test_submit_stopped_by_a_signal_cleans_up_like_ctrl_c",  # 23
    "tests/leaderboard/test_submission_defaults.py::test_an_sb3_zip_of_ppo_or_a2c_needs_no_algo",  # 19
    "tests/leaderboard/test_submission_folder_names.py::test_the_grader_records_both_as_failed_entries_with_the_reason_not_a_grader_error",  # 8
    "tests/leaderboard/test_submissions.py::test_a_target_that_gives_no_policy_is_named_with_what_it_is_and_what_it_should_be",  # 12
    "tests/leaderboard/test_submissions.py::test_sb3_model_zip",  # 10
    "tests/leaderboard/test_suite_file.py::test_a_suite_file_grades_the_baselines_with_its_own_tuned_values",  # 5
    "tests/leaderboard/test_suite_v2.py::test_an_independent_dense_search_finds_no_constant_lr_beating_the_reference_by_1_percent",  # 175 (256 in the first CI-tier run)
    "tests/leaderboard/test_suite_v2.py::test_the_verification_scan_catches_the_narrow_peak_that_r2s_scan_stepped_over",  # 19
    "tests/leaderboard/test_transfer.py::test_summed_loss_study_says_so_and_is_not_mixed_with_a_mean_one",  # 20
    "tests/leaderboard/test_worker_template.py::test_a_forked_worker_runs_where_and_as_a_started_one_does",  # 6
    "tests/leaderboard/test_worker_template.py::test_a_warmed_template_has_every_kernel_its_envs_episodes_run",  # 5
    "tests/leaderboard/test_worker_template.py::test_kept_templates_fork_each_runs_workers_with_its_environment_and_end_with_the_block",  # 9
    "tests/leaderboard/test_worker_template.py::test_runs_on_a_kept_template_grade_to_the_bit_as_runs_on_started_workers",  # 26
    "tests/leaderboard/test_worker_template.py::test_workers_of_a_template_killed_mid_run_die_with_it_and_their_jobs_run_again",  # 11
    "tests/test_client_matrix_torchrl.py::test_torchrls_gymenv_with_num_envs_is_a_failed_row_naming_the_wrong_steps",  # 9
    "tests/test_kernel_cache.py::test_editing_a_dependency_recompiles_the_kernels_that_use_it",  # 10
    "tests/test_ray_results_guard.py::test_a_test_that_builds_an_algorithm_outside_the_block_fails_by_name_and_the_home_gets_nothing",  # 5
    "tests/test_ray_results_guard.py::test_the_guard_holds_when_a_plugin_imported_tune_before_the_session_was_configured",  # 5
    "tests/test_readme_examples.py::test_the_own_family_example_is_a_family_lrgym_runs_and_references",  # 12
    "tests/test_readme_examples.py::test_the_vecnormalize_submission_example_normalises_as_vecnormalize_and_is_graded",  # 50
    "tests/test_torchrl.py::test_the_readmes_torchrl_submission_acts_as_the_actor_and_is_graded",  # 13
    "tests/test_vector_warm_up_benchmark.py::test_a_source_change_between_processes_is_refused",  # 47
    "tests/torch_extra/test_lightning_callback.py::test_lrgym_torch_does_not_import_lightning",  # 13
    "tests/torch_extra/test_lightning_ddp.py::test_a_checkpoint_between_micro_batches_keeps_every_ranks_losses",  # module: the ranks' fixture 27
    "tests/torch_extra/test_lightning_ddp.py::test_a_resumed_ddp_run_continues_the_lrs",
    "tests/torch_extra/test_lightning_ddp.py::test_a_resumed_ddp_run_is_the_uninterrupted_one_to_the_bit",
    "tests/torch_extra/test_lightning_ddp.py::test_ddp_with_accumulation_is_the_single_process_loop",
    "tests/torch_extra/test_lightning_ddp.py::test_ranks_share_one_schedule",
    "tests/torch_extra/test_lightning_ddp.py::test_schedule_is_the_single_process_one",
    "tests/torch_extra/test_lightning_ddp.py::test_ddp_spawn_schedules_as_ddp_and_warns_that_the_held_callback_keeps_no_scheduler",  # 41
    "tests/torch_extra/test_lightning_ddp.py::test_each_rank_trains_on_its_sampler_share",  # 30
)
