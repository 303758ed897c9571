module @attention_block attributes {mhlo.num_partitions = 4 : i32, mhlo.num_replicas = 1 : i32} {
  sdy.mesh @mesh = <["data"=2, "model"=2]>
  func.func public @main(%v0: tensor<2x4x16xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"data"}, {}, {}]>}, %v1: tensor<2x4xi32> {sdy.sharding = #sdy.sharding<@mesh, [{"data"}, {}]>}, %v2: tensor<2x16x8xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"model"}, {}, {}]>}, %v3: tensor<2x2x16x8xf32> {sdy.sharding = #sdy.sharding<@mesh, [{}, {"model"}, {}, {}]>}, %v4: tensor<2x8x16xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"model"}, {}, {}]>}) -> (tensor<2x4x16xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"data"}, {}, {}]>}) {
    %v5 = "stablehlo.reshape"(%v1) : (tensor<2x4xi32>) -> tensor<2x4x1xi32>
    %v6 = "stablehlo.broadcast_in_dim"(%v5) {broadcast_dimensions = array<i64: 0, 1, 2>} : (tensor<2x4x1xi32>) -> tensor<2x4x4xi32>
    %v7 = "stablehlo.reshape"(%v1) : (tensor<2x4xi32>) -> tensor<2x1x4xi32>
    %v8 = "stablehlo.broadcast_in_dim"(%v7) {broadcast_dimensions = array<i64: 0, 1, 2>} : (tensor<2x1x4xi32>) -> tensor<2x4x4xi32>
    %v9 = "stablehlo.compare"(%v8, %v6) {comparison_direction = #stablehlo<comparison_direction LE>, compare_type = #stablehlo<comparison_type SIGNED>} : (tensor<2x4x4xi32>, tensor<2x4x4xi32>) -> tensor<2x4x4xi1>
    %v10 = "stablehlo.subtract"(%v6, %v8) : (tensor<2x4x4xi32>, tensor<2x4x4xi32>) -> tensor<2x4x4xi32>
    %v11 = "stablehlo.constant"() {value = dense<2> : tensor<i32>} : () -> tensor<i32>
    %v12 = "stablehlo.broadcast_in_dim"(%v11) {broadcast_dimensions = array<i64>} : (tensor<i32>) -> tensor<2x4x4xi32>
    %v13 = "stablehlo.compare"(%v10, %v12) {comparison_direction = #stablehlo<comparison_direction LT>, compare_type = #stablehlo<comparison_type SIGNED>} : (tensor<2x4x4xi32>, tensor<2x4x4xi32>) -> tensor<2x4x4xi1>
    %v14 = "stablehlo.and"(%v9, %v13) : (tensor<2x4x4xi1>, tensor<2x4x4xi1>) -> tensor<2x4x4xi1>
    %v15 = "stablehlo.dot_general"(%v0, %v2) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [1]>} : (tensor<2x4x16xf32>, tensor<2x16x8xf32>) -> tensor<2x4x2x8xf32>
    %v16 = "stablehlo.slice"(%v3) {start_indices = array<i64: 0, 0, 0, 0>, limit_indices = array<i64: 1, 2, 16, 8>, strides = array<i64: 1, 1, 1, 1>} : (tensor<2x2x16x8xf32>) -> tensor<1x2x16x8xf32>
    %v17 = "stablehlo.reshape"(%v16) : (tensor<1x2x16x8xf32>) -> tensor<2x16x8xf32>
    %v18 = "stablehlo.dot_general"(%v0, %v17) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [1]>} : (tensor<2x4x16xf32>, tensor<2x16x8xf32>) -> tensor<2x4x2x8xf32>
    %v19 = "stablehlo.slice"(%v3) {start_indices = array<i64: 1, 0, 0, 0>, limit_indices = array<i64: 2, 2, 16, 8>, strides = array<i64: 1, 1, 1, 1>} : (tensor<2x2x16x8xf32>) -> tensor<1x2x16x8xf32>
    %v20 = "stablehlo.reshape"(%v19) : (tensor<1x2x16x8xf32>) -> tensor<2x16x8xf32>
    %v21 = "stablehlo.dot_general"(%v0, %v20) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [1]>} : (tensor<2x4x16xf32>, tensor<2x16x8xf32>) -> tensor<2x4x2x8xf32>
    %v22 = "stablehlo.constant"() {value = dense<"0x0000803F000020410000C84200007A44"> : tensor<4xf32>} : () -> tensor<4xf32>
    %v23 = "stablehlo.convert"(%v1) : (tensor<2x4xi32>) -> tensor<2x4xf32>
    %v24 = "stablehlo.reshape"(%v23) : (tensor<2x4xf32>) -> tensor<2x4x1x1xf32>
    %v25 = "stablehlo.reshape"(%v22) : (tensor<4xf32>) -> tensor<1x1x1x4xf32>
    %v26 = "stablehlo.broadcast_in_dim"(%v24) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x1xf32>) -> tensor<2x4x1x4xf32>
    %v27 = "stablehlo.broadcast_in_dim"(%v25) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<1x1x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v28 = "stablehlo.divide"(%v26, %v27) : (tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v29 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v30 = "stablehlo.broadcast_in_dim"(%v29) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x4x1x4xf32>
    %v31 = "stablehlo.divide"(%v28, %v30) : (tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v32 = "stablehlo.sine"(%v31) : (tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v33 = "stablehlo.cosine"(%v31) : (tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v34 = "stablehlo.slice"(%v15) {start_indices = array<i64: 0, 0, 0, 0>, limit_indices = array<i64: 2, 4, 2, 4>, strides = array<i64: 1, 1, 1, 1>} : (tensor<2x4x2x8xf32>) -> tensor<2x4x2x4xf32>
    %v35 = "stablehlo.slice"(%v15) {start_indices = array<i64: 0, 0, 0, 4>, limit_indices = array<i64: 2, 4, 2, 8>, strides = array<i64: 1, 1, 1, 1>} : (tensor<2x4x2x8xf32>) -> tensor<2x4x2x4xf32>
    %v36 = "stablehlo.broadcast_in_dim"(%v33) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v37 = "stablehlo.multiply"(%v34, %v36) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v38 = "stablehlo.broadcast_in_dim"(%v32) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v39 = "stablehlo.multiply"(%v35, %v38) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v40 = "stablehlo.subtract"(%v37, %v39) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v41 = "stablehlo.broadcast_in_dim"(%v33) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v42 = "stablehlo.multiply"(%v35, %v41) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v43 = "stablehlo.broadcast_in_dim"(%v32) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v44 = "stablehlo.multiply"(%v34, %v43) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v45 = "stablehlo.add"(%v42, %v44) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v46 = "stablehlo.concatenate"(%v40, %v45) {dimension = 3 : i64} : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x8xf32>
    %v47 = "stablehlo.constant"() {value = dense<3.535533905932738e-1> : tensor<f32>} : () -> tensor<f32>
    %v48 = "stablehlo.broadcast_in_dim"(%v47) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x4x2x8xf32>
    %v49 = "stablehlo.multiply"(%v46, %v48) : (tensor<2x4x2x8xf32>, tensor<2x4x2x8xf32>) -> tensor<2x4x2x8xf32>
    %v50 = "stablehlo.constant"() {value = dense<"0x0000803F000020410000C84200007A44"> : tensor<4xf32>} : () -> tensor<4xf32>
    %v51 = "stablehlo.convert"(%v1) : (tensor<2x4xi32>) -> tensor<2x4xf32>
    %v52 = "stablehlo.reshape"(%v51) : (tensor<2x4xf32>) -> tensor<2x4x1x1xf32>
    %v53 = "stablehlo.reshape"(%v50) : (tensor<4xf32>) -> tensor<1x1x1x4xf32>
    %v54 = "stablehlo.broadcast_in_dim"(%v52) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x1xf32>) -> tensor<2x4x1x4xf32>
    %v55 = "stablehlo.broadcast_in_dim"(%v53) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<1x1x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v56 = "stablehlo.divide"(%v54, %v55) : (tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v57 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v58 = "stablehlo.broadcast_in_dim"(%v57) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x4x1x4xf32>
    %v59 = "stablehlo.divide"(%v56, %v58) : (tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v60 = "stablehlo.sine"(%v59) : (tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v61 = "stablehlo.cosine"(%v59) : (tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v62 = "stablehlo.slice"(%v18) {start_indices = array<i64: 0, 0, 0, 0>, limit_indices = array<i64: 2, 4, 2, 4>, strides = array<i64: 1, 1, 1, 1>} : (tensor<2x4x2x8xf32>) -> tensor<2x4x2x4xf32>
    %v63 = "stablehlo.slice"(%v18) {start_indices = array<i64: 0, 0, 0, 4>, limit_indices = array<i64: 2, 4, 2, 8>, strides = array<i64: 1, 1, 1, 1>} : (tensor<2x4x2x8xf32>) -> tensor<2x4x2x4xf32>
    %v64 = "stablehlo.broadcast_in_dim"(%v61) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v65 = "stablehlo.multiply"(%v62, %v64) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v66 = "stablehlo.broadcast_in_dim"(%v60) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v67 = "stablehlo.multiply"(%v63, %v66) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v68 = "stablehlo.subtract"(%v65, %v67) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v69 = "stablehlo.broadcast_in_dim"(%v61) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v70 = "stablehlo.multiply"(%v63, %v69) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v71 = "stablehlo.broadcast_in_dim"(%v60) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v72 = "stablehlo.multiply"(%v62, %v71) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v73 = "stablehlo.add"(%v70, %v72) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v74 = "stablehlo.concatenate"(%v68, %v73) {dimension = 3 : i64} : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x8xf32>
    %v75 = "stablehlo.transpose"(%v74) {permutation = array<i64: 0, 2, 1, 3>} : (tensor<2x4x2x8xf32>) -> tensor<2x2x4x8xf32>
    %v76 = "stablehlo.transpose"(%v21) {permutation = array<i64: 0, 2, 1, 3>} : (tensor<2x4x2x8xf32>) -> tensor<2x2x4x8xf32>
    %v77 = "stablehlo.reshape"(%v49) : (tensor<2x4x2x8xf32>) -> tensor<2x4x2x1x8xf32>
    %v78 = "stablehlo.dot_general"(%v77, %v75) {dot_dimension_numbers = #stablehlo.dot<lhs_batching_dimensions = [0, 2], rhs_batching_dimensions = [0, 1], lhs_contracting_dimensions = [4], rhs_contracting_dimensions = [3]>} : (tensor<2x4x2x1x8xf32>, tensor<2x2x4x8xf32>) -> tensor<2x2x4x1x4xf32>
    %v79 = "stablehlo.constant"() {value = dense<5.0e1> : tensor<f32>} : () -> tensor<f32>
    %v80 = "stablehlo.broadcast_in_dim"(%v79) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x2x4x1x4xf32>
    %v81 = "stablehlo.divide"(%v78, %v80) : (tensor<2x2x4x1x4xf32>, tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v82 = "stablehlo.tanh"(%v81) : (tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v83 = "stablehlo.constant"() {value = dense<5.0e1> : tensor<f32>} : () -> tensor<f32>
    %v84 = "stablehlo.broadcast_in_dim"(%v83) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x2x4x1x4xf32>
    %v85 = "stablehlo.multiply"(%v82, %v84) : (tensor<2x2x4x1x4xf32>, tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v86 = "stablehlo.broadcast_in_dim"(%v14) {broadcast_dimensions = array<i64: 0, 2, 4>} : (tensor<2x4x4xi1>) -> tensor<2x2x4x1x4xi1>
    %v87 = "stablehlo.constant"() {value = dense<-2.3819763e38> : tensor<2x2x4x1x4xf32>} : () -> tensor<2x2x4x1x4xf32>
    %v88 = "stablehlo.select"(%v86, %v85, %v87) : (tensor<2x2x4x1x4xi1>, tensor<2x2x4x1x4xf32>, tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v89_max_init = "stablehlo.constant"() {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
    %v89_max = "stablehlo.reduce"(%v88, %v89_max_init) ({
      ^bb0(%v89_max_c_a: tensor<f32>, %v89_max_c_b: tensor<f32>):
        %v89_max_c_r = "stablehlo.maximum"(%v89_max_c_a, %v89_max_c_b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
        "stablehlo.return"(%v89_max_c_r) : (tensor<f32>) -> ()
    }) {dimensions = array<i64: 4>} : (tensor<2x2x4x1x4xf32>, tensor<f32>) -> tensor<2x2x4x1xf32>
    %v89_maxb = "stablehlo.broadcast_in_dim"(%v89_max) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x2x4x1xf32>) -> tensor<2x2x4x1x4xf32>
    %v89_shift = "stablehlo.subtract"(%v88, %v89_maxb) : (tensor<2x2x4x1x4xf32>, tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v89_exp = "stablehlo.exponential"(%v89_shift) : (tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v89_sum_init = "stablehlo.constant"() {value = dense<0.0e0> : tensor<f32>} : () -> tensor<f32>
    %v89_sum = "stablehlo.reduce"(%v89_exp, %v89_sum_init) ({
      ^bb0(%v89_sum_c_a: tensor<f32>, %v89_sum_c_b: tensor<f32>):
        %v89_sum_c_r = "stablehlo.add"(%v89_sum_c_a, %v89_sum_c_b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
        "stablehlo.return"(%v89_sum_c_r) : (tensor<f32>) -> ()
    }) {dimensions = array<i64: 4>} : (tensor<2x2x4x1x4xf32>, tensor<f32>) -> tensor<2x2x4x1xf32>
    %v89_sumb = "stablehlo.broadcast_in_dim"(%v89_sum) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x2x4x1xf32>) -> tensor<2x2x4x1x4xf32>
    %v89 = "stablehlo.divide"(%v89_exp, %v89_sumb) : (tensor<2x2x4x1x4xf32>, tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v90 = "stablehlo.dot_general"(%v89, %v76) {dot_dimension_numbers = #stablehlo.dot<lhs_batching_dimensions = [0, 1], rhs_batching_dimensions = [0, 1], lhs_contracting_dimensions = [4], rhs_contracting_dimensions = [2]>} : (tensor<2x2x4x1x4xf32>, tensor<2x2x4x8xf32>) -> tensor<2x2x4x1x8xf32>
    %v91 = "stablehlo.transpose"(%v90) {permutation = array<i64: 0, 2, 1, 3, 4>} : (tensor<2x2x4x1x8xf32>) -> tensor<2x4x2x1x8xf32>
    %v92 = "stablehlo.reshape"(%v91) : (tensor<2x4x2x1x8xf32>) -> tensor<2x4x2x8xf32>
    %v93 = "stablehlo.dot_general"(%v92, %v4) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [2, 3], rhs_contracting_dimensions = [0, 1]>} : (tensor<2x4x2x8xf32>, tensor<2x8x16xf32>) -> tensor<2x4x16xf32>
    return %v93 : tensor<2x4x16xf32>
  }
}
