# Compile-time help (gen_server.hpp, message.hpp): each case compiles as written, and must not
# compile with OTTER_EXPECT_FAILURE defined, failing with the message named here. The
# failing variants are built by CTest (their targets are not part of `all`).
set(compile_fail_cases
  "unlisted_call|not listed in `using calls"
  "unlisted_cast|not listed in `using casts"
  "listed_without_handler|has no handle_call"
  "missing_message|has no wire name"
  "handler_reply_type|returns another type than its request's reply_type"
  "call_reply_type|is not the reply_type the request declares")
foreach(entry ${compile_fail_cases})
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 case)
  list(GET parts 1 expected)
  add_executable(compile_ok_${case} compile_fail/${case}.cpp)
  target_link_libraries(compile_ok_${case} PRIVATE otter::core)
  add_executable(compile_fail_${case} EXCLUDE_FROM_ALL compile_fail/${case}.cpp)
  target_link_libraries(compile_fail_${case} PRIVATE otter::core)
  target_compile_definitions(compile_fail_${case} PRIVATE OTTER_EXPECT_FAILURE)
  add_test(NAME compile_fail_${case}
           COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target compile_fail_${case})
  set_tests_properties(compile_fail_${case} PROPERTIES LABELS "compile" RESOURCE_LOCK build_tree
                       PASS_REGULAR_EXPRESSION "${expected}")
endforeach()
